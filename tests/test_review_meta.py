"""`review meta`: metafor's BCG results, PyMARE cross-check, a recovered simulated slope, exclusions, CLI.

Reference numbers (metafor, Viechtbauer 2010, J Stat Softw 36(3)):
- data, yi/vi and the REML random-effects and `~ ablat + year` models: metafor's
  reference page for dat.bcg (pkgdown, docs/reference/dat.bcg.html in
  github.com/wviechtb/metafor, metafor 2.5-15), escalc(measure="RR") then rma(yi, vi);
- the REML `~ ablat` model with z tests: the `metafor::rma(yi, vi, mods = ~ ablat)`
  output printed in RoBMA's vignette "Bayesian Meta-Analysis" (v02, RoBMA 4.0.0) and,
  with Knapp-Hartung tests (same tau^2 and estimates), metafor's README;
- DerSimonian-Laird: metafor's test file tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r
  (checked there against Stata's metan).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.cli import main
from review.meta import MetaDataset, MetaError, make_estimator, meta_analysis
from review.meta.dataset import hanley_mcneil_variance, logit_accuracy, logit_auc
from review.meta.results import egger_test

# dat.bcg (Colditz et al. 1994): tpos, tneg, cpos, cneg, ablat, year
BCG = pd.DataFrame(
    [(4, 119, 11, 128, 44, 1948), (6, 300, 29, 274, 55, 1949), (3, 228, 11, 209, 42, 1960),
     (62, 13536, 248, 12619, 52, 1977), (33, 5036, 47, 5761, 13, 1973), (180, 1361, 372, 1079, 44, 1953),
     (8, 2537, 10, 619, 19, 1973), (505, 87886, 499, 87892, 13, 1980), (29, 7470, 45, 7232, 27, 1968),
     (17, 1699, 65, 1600, 42, 1961), (186, 50448, 141, 27197, 18, 1974), (5, 2493, 3, 2338, 33, 1969),
     (27, 16886, 29, 17825, 33, 1976)],
    columns=["tpos", "tneg", "cpos", "cneg", "ablat", "year"])


def bcg_log_rr() -> tuple[np.ndarray, np.ndarray]:
    t, c = BCG["tpos"] + BCG["tneg"], BCG["cpos"] + BCG["cneg"]
    y = np.log(BCG["tpos"] / t) - np.log(BCG["cpos"] / c)
    v = 1 / BCG["tpos"] - 1 / t + 1 / BCG["cpos"] - 1 / c
    return y.to_numpy(), v.to_numpy()


def near(value: float, printed: float, unit: float = 1e-4) -> bool:
    """Equal within rounding: metafor prints 4 decimals and stops Fisher scoring once tau^2
    moves by < 1e-5; ours iterates to 1e-10, so the last printed digit may differ by one."""
    return abs(value - printed) <= unit * 1.0001


def fit(method: str, moderators: list[str] | None = None):
    y, v = bcg_log_rr()
    mods = BCG[moderators] if moderators else None
    return make_estimator(method).fit(MetaDataset.from_arrays(y, v, mods)).result()


def test_bcg_effect_sizes_match_escalc():
    y, v = bcg_log_rr()
    assert np.round(y, 4).tolist() == [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209,
                                       0.0120, -0.4694, -1.3713, -0.3394, 0.4459, -0.0173]
    assert np.round(v, 4).tolist() == [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040,
                                       0.0564, 0.0730, 0.0124, 0.5325, 0.0714]


def test_bcg_reml_random_effects_model_matches_metafor():
    res = fit("reml")
    b = res.coefficients[0]
    assert round(b.estimate, 4) == -0.7145 and round(b.se, 4) == 0.1798
    assert (round(b.ci_low, 4), round(b.ci_high, 4)) == (-1.0669, -0.3622)
    assert round(res.tau2, 4) == 0.3132
    assert round(res.i2, 2) == 92.22 and round(res.h2, 2) == 12.86
    assert round(res.q, 4) == 152.2330 and res.q_df == 12
    lo, hi = np.exp(res.prediction_interval())  # predict(res, transf=exp): cr.lb, cr.ub
    assert (round(lo, 4), round(hi, 4)) == (0.1546, 1.5490)


def test_bcg_reml_meta_regression_on_absolute_latitude_matches_metafor():
    res = fit("reml", ["ablat"])
    intercept, slope = res.coefficients
    assert near(res.tau2, 0.0764)
    assert near(intercept.estimate, 0.2515) and near(intercept.se, 0.2491)
    assert near(slope.estimate, -0.0291) and near(slope.se, 0.0072)
    assert near(slope.ci_low, -0.0432) and near(slope.ci_high, -0.0150)
    assert near(res.i2, 68.39, 0.01) and near(res.q, 30.7331) and res.q_df == 11


def test_bcg_reml_two_moderators_match_metafor():
    res = fit("reml", ["ablat", "year"])
    assert near(res.tau2, 0.1108) and near(res.i2, 71.98, 0.01) and near(res.q, 28.3251)
    intercept, ablat, year = res.coefficients
    assert intercept.estimate == pytest.approx(-3.5455, rel=1e-4) and near(intercept.se, 29.0959, 1e-3)
    assert near(ablat.estimate, -0.0280) and near(ablat.se, 0.0102)
    assert near(year.estimate, 0.0019) and near(year.se, 0.0147)


def test_bcg_dersimonian_laird_matches_metafor_and_statsmodels():
    from statsmodels.stats.meta_analysis import combine_effects

    res = fit("dl")
    b = res.coefficients[0]
    assert round(b.estimate, 4) == -0.7141 and round(res.tau2, 4) == 0.3088
    assert (round(b.ci_low, 4), round(b.ci_high, 4)) == (-1.0644, -0.3638)
    assert round(res.i2, 4) == 92.1173
    y, v = bcg_log_rr()
    sm = combine_effects(y, v, method_re="dl")
    assert b.estimate == pytest.approx(sm.mean_effect_re, rel=1e-10)
    assert b.se == pytest.approx(sm.sd_eff_w_re, rel=1e-10)


def test_meta_regression_matches_pymare():
    """Same REML tau^2 and coefficients as PyMARE, on BCG and on a numeric + categorical design."""
    pymare = pytest.importorskip("pymare")
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    y, v = bcg_log_rr()
    rng = np.random.default_rng(11)
    k = 30
    size = rng.uniform(2, 4, k)
    group = rng.choice(["a", "b", "c"], k)
    y2 = 1 + 0.4 * size + (group == "b") * 0.5 + rng.normal(0, 0.4, k) + rng.normal(0, 0.2, k)
    v2 = np.full(k, 0.04) * rng.uniform(0.5, 2, k)
    cases = [(y, v, BCG[["ablat"]].astype(float)),
             (y2, v2, pd.DataFrame({"size": size, "group": pd.Categorical(group)}))]
    for yy, vv, mods in cases:
        ours = make_estimator("reml").fit(MetaDataset.from_arrays(yy, vv, mods)).result()
        X = MetaDataset.from_arrays(yy, vv, mods).X[:, 1:]
        theirs = VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(
            pymare.Dataset(y=yy, v=vv, X=X)).params_
        assert ours.tau2 == pytest.approx(float(np.ravel(theirs["tau2"])[0]), rel=1e-4, abs=1e-8)
        assert [c.estimate for c in ours.coefficients] == pytest.approx(np.ravel(theirs["fe_params"]), rel=1e-4)


def _simulated_studies(k: int, slope: float, seed: int) -> pd.DataFrame:
    """k studies whose true logit accuracy is 0.2 + slope * log10(n_images) + N(0, 0.3^2)."""
    rng = np.random.default_rng(seed)
    n_images = np.round(10 ** rng.uniform(2, 5, k)).astype(int)
    n_test = rng.integers(60, 800, k)
    true = 0.2 + slope * np.log10(n_images) + rng.normal(0, 0.3, k)
    correct = rng.binomial(n_test, 1 / (1 + np.exp(-true)))
    return pd.DataFrame({"study_id": [f"sim{2000 + i}" for i in range(k)], "accuracy": correct / n_test,
                         "n_test": n_test, "n_images": n_images})


@pytest.mark.parametrize("method", ["reml", "dl"])
def test_simulated_slope_on_log_data_size_is_recovered(method):
    res = meta_analysis(_simulated_studies(60, slope=0.5, seed=0), "accuracy", ["log10_images"], method)
    slope = res.coefficient("log10_images")
    assert res.k == 60 and not res.excluded
    assert slope.ci_low <= 0.5 <= slope.ci_high
    assert slope.ci_high - slope.ci_low < 0.5   # informative, not a CI that covers everything
    assert slope.p < 0.001                      # the effect is found, not just "not contradicted"
    assert 0.03 < res.tau2 < 0.2                # true residual tau^2 = 0.09
    null = meta_analysis(_simulated_studies(60, slope=0.0, seed=0), "accuracy", ["log10_images"], method)
    assert null.coefficient("log10_images").ci_low <= 0 <= null.coefficient("log10_images").ci_high


def test_simulated_slope_ci_is_calibrated_over_replications():
    """30 independent sets: mean slope near 0.5 and the 95% CI covers it most of the time.

    Logit proportions with estimated binomial variances bias the slope slightly down
    (about -0.02 here) and coverage a little below 95%; a wrong variance or weighting
    would show up far outside these bounds."""
    fits = [meta_analysis(_simulated_studies(60, slope=0.5, seed=100 + s), "accuracy", ["log10_images"])
            .coefficient("log10_images") for s in range(30)]
    assert abs(np.mean([c.estimate for c in fits]) - 0.5) < 0.05
    assert sum(c.ci_low <= 0.5 <= c.ci_high for c in fits) >= 24


def test_accuracy_and_auc_variances():
    y, v = logit_accuracy(0.8, 100)
    assert y == pytest.approx(math.log(4)) and v == pytest.approx(1 / (100 * 0.8 * 0.2))
    y, v = logit_accuracy(1.0, 20)             # continuity correction: (20 + 0.5) / 21
    assert y == pytest.approx(math.log(20.5 / 0.5))
    # Hanley & McNeil with A = 0.8, 50 + 50: Q1 = 0.8/1.2, Q2 = 1.28/1.8
    expected = (0.16 + 49 * (0.8 / 1.2 - 0.64) + 49 * (1.28 / 1.8 - 0.64)) / 2500
    assert hanley_mcneil_variance(0.8, 50, 50) == pytest.approx(expected)
    y, v = logit_auc(0.8, 100)
    assert v == pytest.approx(expected / 0.16 ** 2)


def _studies(**columns) -> pd.DataFrame:
    base = {"study_id": ["a2020", "b2020", "c2020", "d2020", "e2020", "f2020"],
            "accuracy": [0.8, 0.9, 0.85, np.nan, 0.7, 0.95],
            "n_test": [100, 200, np.nan, 50, 80, 300],
            "n_images": [1000, np.nan, 500, 400, 800, 3000],
            "metric_scope": ["", "", "", "", "TL combined with other features", "TL model"],
            "tl_type": ["fine-tuning", "feature extractor", "fine-tuning", "", "feature extractor", ""]}
    base.update(columns)
    return pd.DataFrame(base)


def test_exclusions_are_listed_with_their_first_reason():
    res = meta_analysis(_studies(), "accuracy", ["log10_images"])
    assert res.excluded == [
        {"study_id": "b2020", "reason": "missing moderator: log10_images (n_images not coded)"},
        {"study_id": "c2020", "reason": "no n_test (test-set size behind the metric)"},
        {"study_id": "d2020", "reason": "no accuracy"},
        {"study_id": "e2020", "reason": "metric_scope is 'TL combined with other features': not a TL result"},
    ]
    assert res.k == 2 and list(res.studies["study_id"]) == ["a2020", "f2020"]
    shuffled = _studies().set_index(pd.Index([5, 5, 3, 0, 1, 9]))  # any index, even a repeated one
    assert meta_analysis(shuffled, "accuracy", ["log10_images"]).excluded == res.excluded


def test_json_shape_is_exactly_the_documented_one():
    studies = _studies(n_test=[100, 200, 90, 50, 80, 300], accuracy=[0.8, 0.9, 0.85, 0.6, 0.7, 0.95],
                       metric_scope=[""] * 6, n_images=[1000, 200, 500, 400, 800, 3000])
    doc = meta_analysis(studies, "accuracy", ["log10_images"]).to_dict()
    assert list(doc) == ["metric", "method", "k", "excluded", "pooled", "tau2", "i2", "coefficients"]
    assert list(doc["pooled"]) == ["estimate", "ci_low", "ci_high"]
    assert [c["term"] for c in doc["coefficients"]] == ["intercept", "log10_images"]
    assert set(doc["coefficients"][0]) == {"term", "estimate", "se", "ci_low", "ci_high", "p"}
    assert doc["pooled"]["ci_low"] < doc["pooled"]["estimate"] < doc["pooled"]["ci_high"] < 1
    json.dumps(doc)  # plain JSON types


def test_categorical_terms_are_named_name_level_against_the_most_frequent_level():
    rng = np.random.default_rng(5)
    k = 12
    studies = pd.DataFrame({"study_id": [f"s{2000 + i}" for i in range(k)],
                            "auc": rng.uniform(0.7, 0.95, k), "n_test": rng.integers(50, 400, k),
                            "tl_type": ["fine-tuning"] * 3 + ["feature extractor"] * 7 + ["many"] * 2})
    res = meta_analysis(studies, "auc", ["tl_type"], "dl")
    assert [c.term for c in res.coefficients] == ["intercept", "tl_type[fine-tuning]", "tl_type[many]"]
    assert res.reference_levels == {"tl_type": "feature extractor"}
    assert "Hanley" in res.assumption and "n_test / 2" in res.assumption


def test_too_few_studies_and_single_level_are_reported_not_raised():
    res = meta_analysis(_studies(), "accuracy")
    assert res.k == 3 and res.pooled["estimate"] is not None  # a, b, f (no moderator asked for)
    one = meta_analysis(_studies(n_test=[100, np.nan, np.nan, np.nan, np.nan, np.nan]), "accuracy")
    assert one.k == 1 and one.to_dict()["pooled"]["estimate"] is None and "too few" in one.message
    flat = meta_analysis(_studies(tl_type=["fine-tuning"] * 6, metric_scope=[""] * 6,
                                  n_test=[100, 200, 90, 50, 80, 300], accuracy=[.8, .9, .85, .6, .7, .95]),
                         "accuracy", ["tl_type"])
    assert flat.model is None and "single level" in flat.message


def test_bad_requests_raise_with_the_bad_value():
    with pytest.raises(MetaError, match="Got 'kappa' instead"):
        meta_analysis(_studies(), "kappa")
    with pytest.raises(MetaError, match="Got 'ml' instead"):
        meta_analysis(_studies(), "accuracy", method="ml")
    with pytest.raises(MetaError, match="unknown moderator"):
        meta_analysis(_studies(), "accuracy", ["depth"])


def test_egger_flags_an_asymmetric_funnel_only():
    rng = np.random.default_rng(2)
    se = rng.uniform(0.05, 0.6, 40)
    fair = MetaDataset.from_arrays(rng.normal(1.0, se), se ** 2)
    skewed = MetaDataset.from_arrays(1.0 + 2.5 * se + rng.normal(0, se), se ** 2)  # small studies look better
    assert egger_test(fair).p > 0.05
    assert egger_test(skewed).p < 0.01 and egger_test(skewed).intercept > 0


def test_cli_json_text_and_figures(tmp_path, capsys):
    from review.store import write_studies

    studies = _simulated_studies(12, slope=0.5, seed=1)
    for column, value in {"authors": "Doe J", "year": 2020, "title": "t", "source_url": "https://example.org",
                          "evidence": "e", "coded_by": "test", "coded_on": "2026-01-01",
                          "confidence": "low"}.items():
        studies[column] = value
    studies["title"] = [f"simulated study {i}" for i in range(len(studies))]
    csv = tmp_path / "s.csv"
    write_studies(csv, studies)
    rc = main(["meta", "--csv", str(csv), "--metric", "accuracy", "--moderators", "log10_images",
               "--figure", str(tmp_path / "meta"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["k"] == 12 and doc["coefficients"][1]["term"] == "log10_images"
    for name in ("meta-forest.png", "meta-forest.svg", "meta-funnel.png", "meta-funnel.svg"):
        assert (tmp_path / name).stat().st_size > 0
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert main(["meta", "--csv", str(csv), "--metric", "auc"]) == 1  # no AUC: nothing to pool
    out = capsys.readouterr().out
    assert "Hanley & McNeil" in out and "too few studies" in out and "no auc: 12" in out
    assert main(["meta", "--csv", str(csv), "--metric", "accuracy", "--moderators", "depth"]) == 2
    assert "unknown moderator" in capsys.readouterr().err
