"""The data behind each chart (dashboard.views) checked by hand, and each chart (dashboard.charts) a valid
Vega-Lite spec drawing exactly that data."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest

from dashboard import charts, sources, views
from test_dashboard_sources import store_rows


def rows_of(spec: dict, node: dict | None = None) -> list[dict]:
    """The data rows a (sub)chart draws: its own named dataset, or the top-level one it inherits."""
    name = (node or {}).get("data", spec.get("data", {})).get("name")
    return spec["datasets"][name]


def studies_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "study_id": ["a2019", "b2020", "c2020", "d2021", "e2021"], "year": [2019, 2020, 2020, 2021, 2021],
        "title": ["A", "B", "C", "D", "E"], "modality": ["MRI", "CT", "X-ray", "MRI", "CT"],
        "tl_type": ["fine-tuning", "fine-tuning", "feature extractor", None, "fine-tuning"],
        "accuracy": [0.9, 0.8, 0.7, 0.95, 0.99], "auc": [0.93, None, 0.75, None, None],
        "metric_scope": [None, "TL model", None, None, "TL combined with other features"],
        "n_images": [1000, None, 300, 50, 20], "n_patients": [30, 12, None, None, None], "n_classes": [2, 3, 2, 2, 2],
        "source_url": [f"https://doi.org/10.1/{i}" for i in "abcde"],
    })


def trials_frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"status": "done", "weights": "none", "dataset": "d", "data_size": 8, "wall_time_s": 1.0, "seed": 0,
            "store": "s.sqlite"}
    out = pd.DataFrame({**{k: [v] * n for k, v in base.items()}, **columns})
    out.insert(0, "trial_id", [f"t{i}" for i in range(n)])
    return out


# ------------------------------------------------------------------ per TL strategy
def test_strategy_values_put_each_study_and_trial_on_its_tl_type():
    trials = trials_frame(backbone=["VGG16", "VGG16", "ResNet50V2"],
                          strategy=["partial_finetune", "hybrid_svm", "partial_finetune"],
                          weights=["none", "source:x", "none"], accuracy=[0.5, 0.6, 0.7],
                          auc_weighted=[0.55, 0.65, 0.75])
    values = views.strategy_values(studies_frame(), trials, "accuracy")
    lit = values[values["origin"] == "literature"].set_index("label")
    # d2021 has no TL type, e2021's accuracy is of a combined model: both left out
    assert sorted(lit.index.str.split(" ").str[0]) == ["a2019", "b2020", "c2020"]
    assert lit.loc[lit.index.str.startswith("a2019"), "value"].item() == 0.9
    assert lit.loc[lit.index.str.startswith("a2019"), "data_size"].item() == "1,000 images; 30 patients; 2 classes"
    assert lit.loc[lit.index.str.startswith("c2020"), "source"].item() == "https://doi.org/10.1/c"
    harness = values[values["origin"] == "harness"].set_index("label")
    assert harness.loc["t1", "tl_type"] == "feature extractor hybrid" and harness.loc["t1", "value"] == 0.6
    assert harness.loc["t0", "data_size"] == "8 training patients" and harness.loc["t2", "backbone"] == "ResNet50V2"
    assert list(dict.fromkeys(values["tl_type"])) == ["feature extractor", "feature extractor hybrid", "fine-tuning"]
    auc = views.strategy_values(studies_frame(), trials, "auc_weighted")
    assert sorted(auc.loc[auc["origin"] == "literature", "value"]) == [0.75, 0.93]  # the studies' AUC column
    assert sorted(auc.loc[auc["origin"] == "harness", "value"]) == [0.55, 0.65, 0.75]


def test_strategy_summary_quartiles():
    values = pd.DataFrame({"tl_type": ["x"] * 5 + ["y"], "origin": ["harness"] * 5 + ["literature"],
                           "value": [0.1, 0.2, 0.3, 0.4, 0.5, 0.9]})
    summary = views.strategy_summary(values).set_index(["tl_type", "origin"])
    assert summary.loc[("x", "harness")][["n", "median", "q1", "q3", "min", "max"]].tolist() == \
        pytest.approx([5, 0.3, 0.2, 0.4, 0.1, 0.5])
    assert summary.loc[("y", "literature"), "n"] == 1


def test_strategy_chart_draws_every_point_and_box():
    trials = sources.trials_frame(store_rows(40))
    values = views.strategy_values(studies_frame(), trials, "accuracy")
    summary = views.strategy_summary(values)
    spec = charts.strategy_chart(values, summary, "accuracy").to_dict()  # validates against Vega-Lite's schema
    data = spec["datasets"]
    points = data[spec["layer"][3]["data"]["name"]]
    boxes = data[spec["layer"][1]["data"]["name"]]
    assert len(points) == len(values) == 40 + 3
    assert sorted(p["value"] for p in points) == sorted(values["value"])
    assert {(b["lane"], b["n"]) for b in boxes} == {(f"{t} · {o}", n) for t, o, n in
                                                   summary[["tl_type", "origin", "n"]].itertuples(index=False)}
    assert {p["colour"] for p in points if p["lane"].endswith("literature")} == {charts.STUDY}


# ------------------------------------------------------------------ Table 2
def table2() -> pd.DataFrame:
    return pd.DataFrame({"model": ["VGG16", "VGG16"], "backbone": ["VGG16", "VGG16"], "depth": ["0", "1"],
                         **{m: [0.8, 0.9] for m in views.TABLE2_METRICS}, "source": ["Table 2"] * 2})


def test_table2_comparison_splits_by_weights_with_sd_over_seeds():
    trials = trials_frame(backbone=["VGG16"] * 5, strategy=["feature_extractor"] * 5,
                          weights=["none", "none", "none", "imagenet", "imagenet"], seed=[0, 1, 2, 0, 1],
                          **{m: [0.5, 0.6, 0.7, 0.81, 0.83] for m in views.TABLE2_METRICS})
    out = views.table2_comparison(table2(), trials)
    assert out[["label", "harness_weights", "harness_trials"]].values.tolist() == [
        ["VGG16 · depth 0", "imagenet", 2], ["VGG16 · depth 0", "none", 3], ["VGG16 · depth 1", "", 0]]
    none = out[out["harness_weights"] == "none"].iloc[0]
    assert none["accuracy_harness"] == pytest.approx(0.6)
    assert none["accuracy_harness_sd"] == pytest.approx(np.std([0.5, 0.6, 0.7], ddof=1))
    assert none["accuracy_diff"] == pytest.approx(0.6 - 0.8)
    assert np.isnan(out.iloc[2]["accuracy_harness"]) and out.iloc[2]["accuracy_published"] == 0.9
    dumbbell = views.table2_dumbbell(out, "accuracy")
    assert dumbbell.loc[1, ["published", "harness", "low", "high"]].tolist() == pytest.approx(
        [0.8, 0.6, 0.6 - 0.1, 0.6 + 0.1])
    spec = charts.table2_chart(dumbbell, "accuracy").to_dict()
    data = spec["datasets"]
    means = data[spec["layer"][3]["data"]["name"]]
    assert sorted((m["weights"], round(m["harness"], 3)) for m in means) == [("imagenet", 0.82), ("none", 0.6)]
    assert sorted(m["note"] for m in data[spec["layer"][4]["data"]["name"]]) == ["imagenet (n=2)", "none (n=3)"]
    published = data[spec["layer"][2]["data"]["name"]]
    assert sorted(p["published"] for p in published) == [0.8, 0.9]  # the unmatched row keeps its published value


# ------------------------------------------------------------------ data size
def test_size_performance_puts_curves_in_the_reviews_unit_on_every_panel():
    points = pd.DataFrame({"study_id": ["a", "b"], "size": [10.0, 200.0], "value": [0.7, 0.9],
                           "title": ["A", "B"], "modality": ["MRI", "CT"]})
    trials = trials_frame(backbone=["VGG16"] * 4, strategy=["full_finetune"] * 4, data_size=[6, 6, 12, 12],
                          accuracy=[0.5, 0.7, 0.8, 0.8])
    frame = views.size_performance({"review": points.iloc[:1], "all": points}, trials, "accuracy")
    assert frame.groupby(["panel", "kind"]).size().to_dict() == {("all", "harness"): 2, ("all", "study"): 2,
                                                                ("review", "harness"): 2, ("review", "study"): 1}
    curve = frame[(frame["panel"] == "all") & (frame["kind"] == "harness")].sort_values("data_per_class")
    assert curve["data_per_class"].tolist() == [2.0, 4.0]  # 6 and 12 training patients of a 3-class task
    assert curve["value"].tolist() == pytest.approx([0.6, 0.8]) and curve["trials"].tolist() == [2, 2]
    assert curve["sd"].tolist()[0] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    spec = charts.size_chart(frame, "accuracy").to_dict()
    assert [p["title"]["text"] for p in spec["hconcat"]] == ["review", "all"]


# ------------------------------------------------------------------ cost
def test_throughput_flattened_from_the_store_rows():
    rows = store_rows(2)
    rows[0]["timings"]["throughput"] = {
        "cache_fill": {"images": 100, "seconds": 2.0, "images_per_s": 50.0, "reference_images_per_s": 200.0,
                       "reference": "NVIDIA", "share_of_reference": 0.25},
        "test": {"images": 10, "seconds": 1.0, "images_per_s": 10.0, "reference_images_per_s": None,
                 "reference": None, "share_of_reference": None}}
    frame = sources.trials_frame(rows)
    assert frame.loc[0, "images_per_s_cache_fill"] == 50.0 and frame.loc[0, "share_of_reference_cache_fill"] == 0.25
    speed = views.throughput(frame)
    assert speed[["trial_id", "phase", "images_per_s"]].values.tolist() == [["t00000", "cache_fill", 50.0],
                                                                              ["t00000", "test", 10.0]]
    assert speed["share_of_reference"].tolist()[0] == 0.25 and np.isnan(speed["share_of_reference"].tolist()[1])
    spec = charts.throughput_chart(speed).to_dict()
    assert len(rows_of(spec, spec["hconcat"][0])) == 2
    assert views.throughput(sources.trials_frame(store_rows(3))).empty  # older rows: nothing invented


def test_cost_points_flag_the_pareto_trials():
    trials = trials_frame(backbone=["A"] * 4, strategy=["s"] * 4, wall_time_s=[1.0, 2.0, 3.0, 2.0],
                          accuracy=[0.5, 0.9, 0.8, 0.6])
    points = views.cost_points(trials, "accuracy")
    assert points[["trial_id", "pareto"]].values.tolist() == [["t0", True], ["t1", True], ["t3", False],
                                                              ["t2", False]]
    spec = charts.cost_chart(points, "accuracy").to_dict()
    assert [p["trial_id"] for p in spec["datasets"][spec["layer"][1]["data"]["name"]]] == ["t0", "t1"]


def test_fast_pareto_mask_equals_the_definition():
    rng = np.random.default_rng(1)
    for _ in range(20):
        cost = rng.integers(0, 6, size=40).astype(float)   # many ties on purpose
        value = rng.integers(0, 6, size=40).astype(float)
        naive = [not ((cost <= c) & (value >= v) & ((cost < c) | (value > v))).any() for c, v in zip(cost, value)]
        assert views.pareto_mask(cost, value).tolist() == naive


# ------------------------------------------------------------------ meta-analysis
def test_forest_rows_from_review_meta_results():
    result = {"metric": "accuracy", "k": 2, "pooled": {"estimate": 0.85, "ci_low": 0.8, "ci_high": 0.9},
              "coefficients": [{"term": "intercept", "estimate": 1.7, "se": 0.2, "ci_low": 1.3, "ci_high": 2.1,
                                "p": 0.001}]}
    studies = pd.DataFrame({"study_id": ["b", "a"], "estimate": [0.9, 0.8], "ci_low": [0.85, 0.7],
                            "ci_high": [0.95, 0.88], "weight": [0.6, 0.4]})
    rows = views.forest_rows({"fine-tuning": (result, studies)})
    assert rows[["kind", "label", "estimate"]].values.tolist() == [["study", "a", 0.8], ["study", "b", 0.9],
                                                                   ["pooled", "pooled (fine-tuning, k = 2)", 0.85]]
    charts.forest_chart(rows, "accuracy").to_dict()
    coefs = views.coefficients(result)
    assert coefs.loc[0, "term"] == "intercept"
    charts.coefficients_chart(coefs).to_dict()


# ------------------------------------------------------------------ literature and experiments
def test_review_figures_and_experiment_charts_are_valid_specs(tmp_path):
    from review import summary
    from review.store import load_studies

    from test_dashboard_sources import make_studies

    studies = load_studies(make_studies(tmp_path / "s.csv"))
    fig4 = charts.figure4(summary.figure4_tables(studies)).to_dict()
    per_year = fig4["vconcat"][0]["hconcat"][0]
    assert {r["year"]: r["n"] for r in fig4["datasets"][per_year["data"]["name"]]} == \
        studies["year"].value_counts().to_dict()
    charts.figure5(summary.figure5_tables(studies)).to_dict()
    trials = sources.trials_frame(store_rows(48))
    f1 = views.per_class_f1(trials)
    heat = charts.f1_heatmap(f1).to_dict()
    assert len(rows_of(heat, heat["layer"][0])) == f1.size
    confusion = charts.confusion(views.confusion_total(trials), views.CLASSES).to_dict()
    counts = rows_of(confusion, confusion["layer"][0])
    assert sum(c["count"] for c in counts) == int(views.confusion_total(trials).sum())
    charts.configuration_cost(views.cost_vs_metric(trials, "accuracy"), "accuracy").to_dict()
    charts.learning_curves(views.learning_curves(trials, "accuracy"), "accuracy").to_dict()
    assert isinstance(charts.figure4(summary.figure4_tables(studies)), alt.VConcatChart)


def test_size_chart_draws_the_studies_when_no_trial_has_a_learning_curve():
    """No harness rows (a store without data-size trials): the studies still plot, no AttributeError."""
    points = pd.DataFrame({"study_id": ["a", "b"], "size": [10.0, 200.0], "value": [0.7, 0.9],
                           "title": ["A", "B"], "modality": ["MRI", "CT"]})
    trials = trials_frame(backbone=["VGG16"] * 2, strategy=["full_finetune"] * 2, data_size=[6, 6],
                          accuracy=[0.5, 0.7])
    frame = views.size_performance({"review": points.iloc[:1], "all": points}, trials.iloc[:0], "accuracy")
    assert set(frame["kind"]) == {"study"}
    spec = charts.size_chart(frame, "accuracy").to_dict()
    assert [p["title"]["text"] for p in spec["hconcat"]] == ["review", "all"]
