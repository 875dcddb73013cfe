"""Pure views behind the dashboard pages, checked on hand-made frames."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import views


def trials(**columns) -> pd.DataFrame:
    base = {"status": "done", "weights": "none", "dataset": "d", "data_size": 8, "wall_time_s": 1.0}
    n = len(next(iter(columns.values())))
    return pd.DataFrame({**{k: [v] * n for k, v in base.items()}, **columns})


def test_pareto_mask_by_hand():
    # (cost, value): A(1, .5) B(2, .9) C(3, .8) D(2, .6) -> C is beaten by B, D is beaten by B
    mask = views.pareto_mask([1, 2, 3, 2], [0.5, 0.9, 0.8, 0.6])
    assert mask.tolist() == [True, True, False, False]
    assert views.pareto_mask([1, 1], [0.5, 0.5]).tolist() == [True, True]  # ties dominate nobody


def test_leaderboard_means_over_seeds_best_first():
    t = trials(backbone=["A", "A", "B"], strategy=["s", "s", "s"], accuracy=[0.8, 0.6, 0.75], seed=[0, 1, 0])
    board = views.leaderboard(t, "accuracy")
    assert board["backbone"].tolist() == ["B", "A"]
    assert board.loc[1, "mean"] == pytest.approx(0.7) and board.loc[1, "trials"] == 2
    assert board.loc[1, "std"] == pytest.approx(np.std([0.8, 0.6], ddof=1))


def test_confusion_total_sums_and_f1_table():
    t = trials(backbone=["A", "A"], strategy=["s", "s"], confusion=[[[1, 0, 0], [0, 2, 0], [0, 0, 3]]] * 2,
               f1_OAP=[0.2, 0.4], f1_IN=[1.0, 1.0], f1_OBS=[0.5, 0.7])
    assert views.confusion_total(t).tolist() == [[2, 0, 0], [0, 4, 0], [0, 0, 6]]
    f1 = views.per_class_f1(t)
    assert f1.loc["A / s / none"].tolist() == pytest.approx([0.3, 1.0, 0.6])


def test_filters_restrict_rows():
    t = trials(backbone=["A", "B", "C"], strategy=["x", "y", "x"], accuracy=[0.1, 0.2, 0.3])
    assert views.TrialFilter(strategy=("x",)).apply(t)["backbone"].tolist() == ["A", "C"]
    assert len(views.TrialFilter().apply(t)) == 3
    studies = pd.DataFrame({"year": [2017, 2019, 2021], "modality": ["CT", None, "MRI"],
                            "subject": ["bones"] * 3, "backbone_family": ["VGG"] * 3, "tl_type": ["many"] * 3})
    assert views.StudyFilter(years=(2018, 2021)).apply(studies)["year"].tolist() == [2019, 2021]
    assert views.StudyFilter(modality=("CT", "MRI")).apply(studies)["year"].tolist() == [2017, 2021]


def test_mappings_to_the_reviews_vocabulary():
    assert views.tl_type("hybrid_svm") == "feature extractor hybrid"
    assert views.tl_type("full_finetune") == "fine-tuning from scratch"
    assert [views.backbone_family(b) for b in ("InceptionResNetV2", "InceptionV3", "ResNet50V2", "VGG16",
                                               "MobileNetV1-0.25", "CBR-Tiny", "Xception")] == \
        ["Inception-ResNet", "Inception", "ResNet", "VGG", "other", "other", "other"]


def test_table2_comparison_matches_depth_and_never_invents():
    table2 = pd.DataFrame({"model": ["VGG16", "VGG16", "CBR-Tiny"], "backbone": ["VGG16", "VGG16", "CBR-Tiny"],
                           "depth": ["0", "1", ""], **{m: [0.5, 0.6, 0.7] for m in views.TABLE2_METRICS}})
    t = trials(backbone=["vgg16", "VGG16", "ResNet50V2"], strategy=["feature_extractor"] * 3,
               **{m: [0.4, 0.6, 0.9] for m in views.TABLE2_METRICS})
    out = views.table2_comparison(table2, t)
    assert out["harness_trials"].tolist() == [2, 0, 0]
    assert out.loc[0, "accuracy_harness"] == pytest.approx(0.5)
    assert out.loc[0, "accuracy_diff"] == pytest.approx(0.0)
    assert out.loc[1:, "accuracy_harness"].isna().all()  # no run -> NaN, not a number
    assert out["strategy"].tolist() == ["feature_extractor", "partial_finetune", "full_finetune"]


def test_side_by_side_counts_studies_and_runs():
    studies = pd.DataFrame({"tl_type": ["fine-tuning", "fine-tuning", "feature extractor", None],
                            "accuracy": [0.9, 0.8, None, 0.7], "auc": [None] * 4})
    t = trials(backbone=["A", "A", "B"], strategy=["partial_finetune", "hybrid_rf", "partial_finetune"],
               accuracy=[0.5, 0.6, 0.7])
    table = views.side_by_side(studies, t, "tl_type").set_index("tl_type")
    assert table.loc["fine-tuning", "lit_studies"] == 2 and table.loc["fine-tuning", "lit_share"] == pytest.approx(0.5)
    assert table.loc["fine-tuning", "lit_median_accuracy"] == pytest.approx(0.85)
    assert table.loc["feature extractor", "lit_n_reporting"] == 0
    assert table.loc["fine-tuning", "harness_trials"] == 2
    assert table.loc["fine-tuning", "harness_mean_accuracy"] == pytest.approx(0.6)
    assert table.loc["feature extractor hybrid", "harness_trials"] == 1
    assert table.loc["feature extractor hybrid", "lit_studies"] == 0  # no study used it: 0, not missing


def test_scatter_points_use_the_reviews_units():
    t = trials(backbone=["A", "A"], strategy=["s", "s"], data_size=[6, 6], accuracy=[0.5, 0.7])
    pts = views.harness_scatter_points(t)
    assert pts["data_per_class"].tolist() == [2.0] and pts["value"].tolist() == [pytest.approx(0.6)]
    studies = pd.DataFrame({"study_id": ["a", "b"], "title": ["x", "y"], "year": [2019, 2019],
                            "modality": ["MRI", "X-ray"], "tl_type": ["many"] * 2, "backbone_family": ["VGG"] * 2,
                            "n_patients": [30, 30], "n_images": [900, 900], "n_classes": [3, 3],
                            "accuracy": [0.8, 0.9], "auc": [None, None]})
    lit = views.literature_points(studies)
    assert lit["data_per_class"].tolist() == [10.0, 300.0]  # patients for MRI, images for X-ray
