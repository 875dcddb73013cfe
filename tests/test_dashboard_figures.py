"""Every figure the dashboard offers renders to real PNG and SVG bytes (what the download buttons give)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import sources, views, widgets
from test_dashboard_sources import make_studies, store_rows


@pytest.fixture(scope="module")
def trials():
    return sources.trials_frame(store_rows(48))


def cases(trials: pd.DataFrame) -> dict[str, tuple]:
    return {
        "f1_heatmap": (views.per_class_f1(trials),),
        "confusion": (views.confusion_total(trials),),
        "cost_vs_metric": (views.cost_vs_metric(trials, "accuracy"), "accuracy"),
        "learning_curves": (views.learning_curves(trials, "accuracy"), "accuracy"),
        "literature_scatter": (pd.DataFrame(columns=["data_per_class", "value", "modality"]),
                               views.harness_scatter_points(trials), "accuracy"),
        "empty": ("nothing here",),
    }


@pytest.mark.parametrize("name", ["f1_heatmap", "confusion", "cost_vs_metric", "learning_curves",
                                  "literature_scatter", "empty"])
def test_figure_renders_png_and_svg(trials, name):
    args = cases(trials)[name]
    png = widgets.render(name, "png", *args)
    svg = widgets.render(name, "svg", *args)
    assert png.startswith(b"\x89PNG") and len(png) > 2000
    assert b"<svg" in svg[:500]


def test_cost_front_is_pareto_optimal(trials):
    board = views.cost_vs_metric(trials, "accuracy")
    front = board[board["pareto"]]
    for _, row in front.iterrows():  # nothing is both cheaper and better than a front point
        assert not ((board["cost"] < row["cost"]) & (board["mean"] > row["mean"])).any()
    assert len(front) >= 1 and not board["pareto"].all()


@pytest.mark.slow
def test_review_figures_render_from_a_small_csv(tmp_path):
    from review.store import load_studies

    studies = load_studies(make_studies(tmp_path / "s.csv"))
    for name in ("figure4", "figure5"):
        assert widgets.render(name, "png", studies).startswith(b"\x89PNG")
    table = views.table2_comparison(
        pd.DataFrame({"model": ["A"], "backbone": ["A"], "depth": ["0"], **{m: [0.5] for m in views.TABLE2_METRICS}}),
        sources.trials_frame(store_rows(4)).assign(backbone="A", strategy="feature_extractor"))
    assert np.isfinite(table[[f"{m}_diff" for m in views.TABLE2_METRICS]].to_numpy(float)).all()
    assert widgets.render("table2_differences", "svg", table, views.TABLE2_METRICS).count(b"<svg") == 1
