"""Figure 6: selection rules, per-class normalisation, Spearman r/p, bootstrap, CLI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from review import spearman as sp
from review.cli import main
from review.store import load_studies

STUDIES = Path(__file__).parent / "fixtures" / "review_analyses" / "studies.csv"


@pytest.fixture(scope="module")
def df():
    return load_studies(STUDIES)


def test_selection_follows_the_review_order(df):
    subset, excluded = sp.select_subset(df)
    assert dict(zip(excluded["study_id"], excluded["reason"])) == {
        "alpha2016": "multiple models",      # several backbones (also several TL types)
        "bravo2017": "multiple TL types",
        "charlie2017": "minor model",        # backbone_category other
        "delta2018": "multiple modalities",
        "echo2018": "backbone not coded",
    }
    assert sorted(subset["study_id"]) == ["foxtrot2018", "golf2019", "hotel2019", "india2020",
                                          "juliett2020", "kilo2020", "lima2021"]


def test_size_is_patients_for_ct_mri_microscopy_per_class(df):
    size = dict(zip(df["study_id"], sp.normalised_size(df)))
    assert size["golf2019"] == 200     # CT: 400 patients / 2 classes (not 9999 images)
    assert size["hotel2019"] == 300    # microscopy: 900 patients / 3
    assert size["juliett2020"] == 500  # MRI: 1000 patients / 2
    assert size["india2020"] == 400    # photography: 1600 images / 4
    assert math.isnan(size["lima2021"])  # no count at all


def test_spearman_matches_hand_computation(df):
    """AUC points (size, AUC): (100, .80) (200, .70) (300, .90) (400, .85) (500, .95).

    Ranks of size 1 2 3 4 5, ranks of AUC 2 1 4 3 5, d = -1 1 -1 1 0, sum d^2 = 4,
    r = 1 - 6*4 / (5*(25-1)) = 0.8. t = r*sqrt((n-2)/(1-r^2)) = 0.8*sqrt(3/0.36) = 2.3094;
    for 3 degrees of freedom the two-sided p has the closed form
    p = 1 - (2/pi) * (theta + sin(theta)*cos(theta)), theta = atan(t/sqrt(3)) -> 0.1041.
    Accuracy points: (100, .85) (300, .80) (400, .90) (1000, .95): ranks 1 2 3 4 vs 2 1 3 4,
    sum d^2 = 2, r = 1 - 12/(4*15) = 0.8.
    """
    a = sp.analyse(df, n_boot=0)
    auc, acc = a.results["auc"], a.results["accuracy"]
    assert auc.n == 5 and auc.r == pytest.approx(0.8)
    t = 0.8 * math.sqrt(3 / 0.36)
    theta = math.atan(t / math.sqrt(3))
    assert auc.p == pytest.approx(1 - 2 / math.pi * (theta + math.sin(theta) * math.cos(theta)), abs=1e-9)
    assert auc.p == pytest.approx(0.1041, abs=1e-4)
    assert acc.n == 4 and acc.r == pytest.approx(0.8)
    assert math.isnan(acc.p) and "too few studies" in acc.note  # 4 < 5 points: r only
    assert a.both_metrics() == 3  # foxtrot, hotel, india
    assert list(auc.points["study_id"]) == ["foxtrot2018", "golf2019", "hotel2019", "india2020", "juliett2020"]


def test_bootstrap_is_deterministic_for_a_seed(df):
    one = sp.analyse(df, n_boot=300, seed=7).results["auc"]
    two = sp.analyse(df, n_boot=300, seed=7).results["auc"]
    assert (one.ci_low, one.ci_high) == (two.ci_low, two.ci_high)
    assert -1 <= one.ci_low <= one.ci_high <= 1
    rng = np.random.default_rng(0)  # 40 noisy points: seeds must matter, a seed must repeat
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    a = sp.bootstrap_spearman(x, y, n_boot=500, seed=1)
    assert a == sp.bootstrap_spearman(x, y, n_boot=500, seed=1)
    assert a != sp.bootstrap_spearman(x, y, n_boot=500, seed=2)
    assert a[0] < sp.spearman(x, y)[0] < a[1]


def test_bootstrap_ci_of_a_perfect_monotone_relation_is_one():
    x = np.arange(1.0, 11.0)
    low, high = sp.bootstrap_spearman(x, x ** 2, n_boot=200, seed=0)
    assert low == pytest.approx(1.0) and high == pytest.approx(1.0)


def test_implied_p_and_its_inverses():
    """r = 0.8, n = 5 is the 3-df case above: p = 0.1041."""
    assert sp.implied_p(0.8, 5) == pytest.approx(0.1041, abs=1e-4)
    n = sp.n_for_p(0.05, 0.03)
    assert sp.implied_p(0.05, n) <= 0.03 < sp.implied_p(0.05, n - 1)
    r = sp.r_for_p(0.03, 41)
    assert sp.implied_p(r, 41) == pytest.approx(0.03, rel=1e-6)


def test_too_few_points_give_nan_not_an_error():
    import pandas as pd

    one = pd.DataFrame({"study_id": ["x2020"], "backbone_category": ["deep"],
                        "backbone_family": ["ResNet"], "tl_type": ["fine-tuning"], "modality": ["CT"],
                        "n_patients": [10], "n_classes": [2], "auc": [0.9]})
    res = sp.analyse(one, n_boot=10).results["auc"]
    assert res.n == 1 and math.isnan(res.r) and math.isnan(res.ci_low) and "too few studies" in res.note


@pytest.mark.parametrize("n, r_shown, p_shown", [(2, False, False), (3, True, False), (4, True, False),
                                                 (5, True, True)])
def test_small_n_shows_r_from_3_and_p_and_ci_from_5(n, r_shown, p_shown):
    import pandas as pd

    pts = pd.DataFrame({"study_id": [f"s{i}" for i in range(n)], "size": [10.0, 30, 20, 50, 40][:n],
                        "value": [0.7, 0.8, 0.75, 0.9, 0.95][:n]})
    res = sp.correlate("auc", pts, n_boot=200, seed=0, level=0.95)
    assert (not math.isnan(res.r)) == r_shown
    assert (not math.isnan(res.p)) == p_shown and (not math.isnan(res.ci_low)) == p_shown
    assert ("too few studies" in res.note) == (not p_shown)
    doc = res.to_dict()
    assert "points" not in doc and (doc["p"] is None) == (not p_shown)


def test_all_selection_keeps_every_study_with_a_size_and_a_metric(df):
    """Under `all` the one-model rule is gone: alpha (multiple models), bravo (many TL types),
    charlie (minor model), delta (many modalities) and echo (backbone not coded) come back;
    lima has no data quantity."""
    subset, excluded = sp.select_subset(df, "all")
    assert dict(zip(excluded["study_id"], excluded["reason"])) == {"lima2021": "no data quantity"}
    a = sp.analyse(df, n_boot=0, selection="all")
    assert a.selection == "all" and a.results["auc"].selection == "all"
    assert a.results["auc"].n == 8 and a.results["accuracy"].n == 6
    assert a.excluded_counts() == {"TL combined with other features": 0, "no AUC or accuracy": 0,
                                   "no data quantity": 1, "no n_classes": 0}
    both = sp.analyse_both(df, n_boot=0)
    assert set(both) == {"review", "all"} and len(both["review"].subset) == 7


def test_combined_feature_metrics_are_dropped_by_both_selections(df):
    changed = df.copy()
    changed.loc[changed["study_id"] == "golf2019", "metric_scope"] = "TL combined with other features"
    for selection in ("review", "all"):
        _, excluded = sp.select_subset(changed, selection)
        assert dict(zip(excluded["study_id"], excluded["reason"]))["golf2019"] == \
            "TL combined with other features"


def test_minor_model_is_counted_before_the_tl_type():
    """The paper's order: a minor-model study that also benchmarks several TL types counts as
    'minor model' (model tests first), so the reason counts compare with 57 / 14 / 9."""
    import pandas as pd

    rows = pd.DataFrame({"study_id": ["m2020", "t2020"], "backbone_category": ["other", "deep"],
                         "backbone_family": ["other", "ResNet"], "tl_type": ["many", "many"],
                         "modality": ["CT", "CT"]})
    _, excluded = sp.select_subset(rows)
    assert list(excluded["reason"]) == ["minor model", "multiple TL types"]


def test_unknown_selection_is_refused(df):
    with pytest.raises(ValueError, match="Got 'some' instead"):
        sp.analyse(df, selection="some")


def test_cli_json_and_figure(tmp_path, capsys):
    rc = main(["spearman", "--csv", str(STUDIES), "--bootstrap", "200", "--seed", "3",
               "--figure", str(tmp_path / "fig6"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["subset_n"] == 7 and doc["selection"] == "review"
    assert doc["excluded"]["multiple models"] == 1 and doc["excluded"]["minor model"] == 1
    assert doc["results"]["auc"]["r"] == pytest.approx(0.8) and doc["results"]["auc"]["seed"] == 3
    assert {p["study_id"] for p in doc["points"] if p["metric"] == "auc"} == {
        "foxtrot2018", "golf2019", "hotel2019", "india2020", "juliett2020"}
    assert (tmp_path / "fig6.png").exists() and (tmp_path / "fig6.svg").exists()


def test_cli_selection_all_and_small_n_text(capsys):
    assert main(["spearman", "--csv", str(STUDIES), "--selection", "all", "--bootstrap", "50", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["selection"] == "all" and doc["subset_n"] == 11 and doc["excluded"]["no data quantity"] == 1
    assert main(["spearman", "--csv", str(STUDIES), "--bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "accuracy: n = 4, Spearman r = 0.800 (too few studies (n = 4 < 5): r only" in out


def test_cli_rejects_bad_options(capsys):
    assert main(["spearman", "--csv", str(STUDIES), "--bootstrap", "-1"]) == 2
    assert "--bootstrap" in capsys.readouterr().err


def test_figure6_panels_and_selection_title(df):
    from review.plotting import pyplot

    for selection, n_auc in (("review", 5), ("all", 8)):
        fig = sp.figure(sp.analyse(df, n_boot=50, selection=selection))
        letters = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_fontweight() == "bold"]
        assert letters == ["a", "b", "c", "d"]
        assert fig.axes[0].get_title().startswith(f"n = {n_auc}, r = ")
        assert ("review's selection" in fig._suptitle.get_text()) == (selection == "review")
        pyplot().close(fig)
