"""matplotlib figures of the Experiments and Side-by-side pages.

Each builder takes small tidy frames (from `dashboard.views`) and returns a
Figure; `render(name, fmt, ...)` in `dashboard.widgets` turns it into cached
PNG / SVG bytes, so the same picture is shown and downloaded.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.views import CLASSES


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def empty(message: str):
    """A placeholder figure that says why there is nothing to draw."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11)
    ax.set_axis_off()
    return fig


def f1_heatmap(table: pd.DataFrame):
    """Mean per-class F1 (rows = configuration, columns = OAP / IN / OBS)."""
    if table.empty:
        return empty("no trials with per-class F1")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(table) + 1.4))
    im = ax.imshow(table.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns)
    ax.set_yticks(range(len(table)), table.index)
    for (r, c), v in np.ndenumerate(table.to_numpy(dtype=float)):
        if np.isfinite(v):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=9)
    ax.set_xlabel("class (test set)")
    ax.set_title("Per-class F1, mean over trials")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="F1")
    fig.tight_layout()
    return fig


def confusion(matrix: np.ndarray, title: str = "Confusion matrix (summed over trials)"):
    """Confusion matrix with counts and row-normalised shares (rows = true class)."""
    plt = _plt()
    matrix = np.asarray(matrix, dtype=float)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    labels = list(CLASSES)[: matrix.shape[0]]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    for (r, c), v in np.ndenumerate(matrix):
        ax.text(c, r, f"{int(v)}\n{share[r, c]:.0%}", ha="center", va="center",
                color="white" if share[r, c] > 0.6 else "black", fontsize=9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def cost_vs_metric(board: pd.DataFrame, metric: str, cost_label: str = "wall time per trial (s)"):
    """Each configuration's mean cost vs mean metric; the Pareto front joined by a line."""
    if board.empty:
        return empty("no trials with both a cost and this metric")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for strategy, group in board.groupby("strategy"):
        ax.scatter(group["cost"], group["mean"], label=strategy, alpha=0.8)
    front = board[board["pareto"]].sort_values("cost")
    ax.plot(front["cost"], front["mean"], color="black", lw=1, ls="--", label="Pareto front")
    for _, row in front.iterrows():
        ax.annotate(f"{row['backbone']} / {row['strategy']} / {row['weights']}", (row["cost"], row["mean"]),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(cost_label + " (log scale)")
    ax.set_ylabel(metric)
    ax.set_title(f"Cost vs {metric}: left is cheaper, higher is better")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def learning_curves(curves: pd.DataFrame, metric: str):
    """Metric vs number of training patients, one line per configuration."""
    if curves.empty:
        return empty("no trials with a data size")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, group in curves.groupby("configuration"):
        ax.errorbar(group["data_size"], group["mean"], yerr=group["std"].fillna(0), marker="o",
                    capsize=3, label=name)
    ax.set_xlabel("training patients")
    ax.set_ylabel(f"{metric} (mean ± sd over trials)")
    ax.set_title("Learning curves over data size")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def literature_scatter(literature: pd.DataFrame, runs: pd.DataFrame, metric: str):
    """The review's data size vs performance scatter (colour = modality), the user's runs as black diamonds."""
    if literature.empty and runs.empty:
        return empty("nothing to plot: no studies with data size and this metric, and no runs")
    from review.plotting import MODALITY_COLORS, color_for

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    if not literature.empty:
        for modality, group in literature.groupby("modality"):
            ax.scatter(group["data_per_class"], group["value"], alpha=0.8, label=f"study: {modality}",
                       color=color_for(modality, MODALITY_COLORS))
    if not runs.empty:
        ax.scatter(runs["data_per_class"], runs["value"], marker="D", s=60, color="black",
                   label="your harness runs")
    ax.set_xscale("log")
    ax.set_xlabel("data per class (patients for CT/MRI/microscopy, else images; log scale)")
    ax.set_ylabel(metric)
    ax.set_title(f"Data size vs {metric}: literature and your runs")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def table2_differences(comparison: pd.DataFrame, metrics: tuple[str, ...]):
    """Heatmap of harness minus published for the Table 2 rows that have a matching run."""
    rows = comparison[comparison["harness_trials"] > 0]
    diff = rows[[f"{m}_diff" for m in metrics]].to_numpy(dtype=float)
    if not np.isfinite(diff).any():
        return empty("no harness run matches a Table 2 row yet")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.8))
    lim = max(float(np.nanmax(np.abs(diff))), 0.05)
    im = ax.imshow(diff, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right")
    labels = [(f"{m} (depth {d})" if d != "–" else f"{m} (from scratch)") + (f" [{w}]" if w else "")
              for m, d, w in zip(rows["model"], rows["depth"], rows.get("harness_weights", [""] * len(rows)))]
    ax.set_yticks(range(len(rows)), labels)
    for (r, c), v in np.ndenumerate(diff):
        if np.isfinite(v):
            ax.text(c, r, f"{v:+.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * lim else "black")
    ax.set_title("Harness minus Ho & Kim 2021 Table 2 (blue = harness higher)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    return fig


# ------------------------------------------------ the review's own figures (review.* APIs)
def prisma_diagram(path: str, mtime_ns: int, n_rows: int | None):
    """review.prisma's PRISMA 2020 flow diagram, with failed checks printed under it.

    `mtime_ns` is only part of the cache key, so an edited counts file is redrawn.
    """
    from review import prisma

    counts = prisma.load_counts(path)
    return prisma.draw(counts, checks=prisma.check_counts(counts, n_rows))


def spearman_figure(studies: pd.DataFrame, n_boot: int, seed: int, selection: str = "review"):
    """review.spearman's Figure 6 (four panels) for these studies (analysis from the cached loader)."""
    from review import spearman

    from dashboard import sources

    return spearman.figure(sources.spearman(studies, n_boot, seed, selection))


def figure4(studies: pd.DataFrame):
    """review.summary's Figure 4 (per year; backbone category; TL type; backbone family)."""
    from review import summary

    return summary.figure4(studies)


def figure5(studies: pd.DataFrame):
    """review.summary's Figure 5 (modality x subject; number of classes; data quantity)."""
    from review import summary

    return summary.figure5(studies)


def meta_forest(studies: pd.DataFrame, measure: str):
    """review.meta's forest plot (studies, pooled diamond, prediction interval) for these studies."""
    from review.meta import meta_analysis
    from review.meta.plots import forest

    return forest(meta_analysis(studies, measure))
