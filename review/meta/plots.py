"""Forest and funnel plots of a `MetaResult` (seaborn on matplotlib).

Forest: one row per study (reported value and its CI on the metric's scale,
marker area proportional to the random-effects weight), the pooled estimate
as a diamond and the prediction interval as a bar under it. Funnel: logit
estimate against its standard error (inverted axis) with the pooled estimate
and its pseudo 95 % limits; Egger's test in the title.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from review.meta.analysis import MetaResult

LABEL = {"accuracy": "accuracy", "auc": "AUC"}


def forest(result: MetaResult):
    """Forest plot (matplotlib Figure); needs a fitted result (k >= 2)."""
    import seaborn as sns

    from review.plotting import pyplot

    plt = pyplot()
    _require_fit(result)
    table = result.studies.sort_values("estimate", ascending=True).reset_index(drop=True)
    k = len(table)
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(8, 2.2 + 0.28 * k))
        rows = np.arange(k)[::-1] + 2  # studies above the pooled rows
        ax.hlines(rows, table["ci_low"], table["ci_high"], color="#4c4c4c", lw=1)
        sns.scatterplot(x=table["estimate"], y=rows, size=table["weight"], sizes=(15, 160), marker="s",
                        color="#1f4e79", legend=False, ax=ax)
        est, lo, hi = (result.pooled[k_] for k_ in ("estimate", "ci_low", "ci_high"))
        ax.fill([lo, est, hi, est], [1, 1.3, 1, 0.7], color="#c0392b", zorder=3)
        pi_lo, pi_hi = result.prediction
        ax.hlines(0.3, pi_lo, pi_hi, color="#c0392b", lw=3, alpha=0.5)
        labels = [f"{sid} (n = {n})" for sid, n in zip(table["study_id"], table["n_test"])]
        ax.set_yticks([*rows, 1, 0.3], [*labels, "pooled (random effects)", "prediction interval"], fontsize=8)
        ax.set_ylim(-0.4, k + 2.6)
        ax.set_xlabel(LABEL[result.metric])
        ax.set_title(_title(result), fontsize=9)
        fig.text(0.01, 0.005, result.assumption, fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def funnel(result: MetaResult):
    """Funnel plot with Egger's test (matplotlib Figure); needs a fitted result."""
    import seaborn as sns

    from review.plotting import pyplot

    plt = pyplot()
    _require_fit(result)
    table = result.studies
    centre = result.pooled_model.coefficients[0].estimate
    se_max = float(table["se_logit"].max()) * 1.05
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(6.5, 5))
        se = np.linspace(0, se_max, 50)
        ax.fill_betweenx(se, centre - 1.96 * se, centre + 1.96 * se, color="#dddddd", alpha=0.6,
                         label="pseudo 95% limits")
        ax.axvline(centre, color="#c0392b", lw=1, label=f"pooled ({expit(centre):.3f})")
        sns.scatterplot(data=table, x="logit", y="se_logit", color="#1f4e79", ax=ax, label="studies")
        ax.set_ylim(se_max, 0)
        ax.set_xlabel(f"logit({LABEL[result.metric]})")
        ax.set_ylabel("standard error (logit scale)")
        egger = ("Egger's test: needs k >= 3" if result.egger is None else
                 f"Egger's test: intercept {result.egger.intercept:.2f} (SE {result.egger.se:.2f}), "
                 f"p = {result.egger.p:.3g}")
        ax.set_title(f"Funnel plot, {LABEL[result.metric]} (k = {result.k})\n{egger}", fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
    return fig


def _title(result: MetaResult) -> str:
    p = result.pooled
    return (f"{LABEL[result.metric]}: pooled {p['estimate']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}], "
            f"k = {result.k}, {result.method.upper()}\n"
            f"tau\u00b2 = {result.tau2:.3g} (logit scale), I\u00b2 = {result.i2:.1f}%"
            + (f" (residual, moderators: {', '.join(result.moderators)})" if result.moderators else ""))


def _require_fit(result: MetaResult) -> None:
    from review.meta.dataset import MetaError

    if result.pooled_model is None:
        raise MetaError(f"nothing to plot: {result.message or 'the model was not fitted'}")


def save_plots(result: MetaResult, stem) -> list:
    """Write <stem>-forest.{png,svg} and <stem>-funnel.{png,svg}; return the paths."""
    from pathlib import Path

    from review.plotting import save_figure

    stem = Path(stem)
    if stem.suffix.lower() in (".png", ".svg"):
        stem = stem.with_suffix("")
    return (save_figure(forest(result), stem.with_name(stem.name + "-forest"))
            + save_figure(funnel(result), stem.with_name(stem.name + "-funnel")))
