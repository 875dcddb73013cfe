"""Figure 6 of Kim et al. 2022: normalised data size vs AUC and vs accuracy.

Two selections (`selection=`):

* ``review``, the review's rule (Results, "Performance visualization"): only
  studies with one backbone model, one TL type and one image modality are
  kept; the excluded ones have "multiple models (n=57), ... multiple TL types
  (n=14) or ... minor models like LeNet (n=9)". Each excluded study is counted
  once, under its first reason, in the order of `REVIEW_REASONS`: the model
  tests first (not coded, several models, a minor model), then the TL type,
  then the modality, so a minor-model study that also benchmarks several TL
  types counts as "minor model", as in the paper's counts. Rows whose category,
  TL type or modality is not coded cannot be placed and get their own reason.
* ``all``: every study that reports a data size and the metric (a multi-model
  study contributes its best reported value, as coded). The size is the same
  normalised quantity as under ``review``, so a study needs the count its
  modality calls for and `n_classes`; the reasons say which is missing.

Both drop metrics of a model that adds non-TL features (`metric_scope` =
"TL combined with other features"; last reason under ``review`` so that the
paper's reasons keep their counts).

"The X coordinate is the normalized data quantity": data quantity divided by
the number of classes, where the quantity is the number of patients for CT,
MRI and microscopy ("reflect the number of patients") and the number of
images otherwise. Spearman's rank correlation of that size with AUC and with
accuracy: r from 3 points on; p (`scipy.stats.spearmanr`, t distribution with
n - 2 degrees of freedom) and the percentile bootstrap interval (studies
resampled with replacement, numpy Generator seeded) from `MIN_N_INFERENCE` = 5
points on; below that they are not reported ("too few studies").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PATIENT_MODALITIES: tuple[str, ...] = ("CT", "MRI", "microscopy")
METRICS: tuple[str, ...] = ("auc", "accuracy")
SELECTIONS: tuple[str, ...] = ("review", "all")
COMBINED = "TL combined with other features"
#: Exclusion reasons of the review's selection, in the order they are applied.
REVIEW_REASONS: tuple[str, ...] = ("backbone not coded", "multiple models", "minor model",
                                   "TL type not coded", "multiple TL types", "modality not coded",
                                   "multiple modalities", COMBINED)
#: Exclusion reasons of the `all` selection, in the order they are applied.
ALL_REASONS: tuple[str, ...] = (COMBINED, "no AUC or accuracy", "no data quantity", "no n_classes")
MIN_N_R = 3          # fewer points: no correlation at all
MIN_N_INFERENCE = 5  # fewer points: r only, no p and no bootstrap interval
TOO_FEW = "too few studies"
NOT_CODED = "not coded"  # label of an empty category cell in the points (selection `all`)


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    """Column as stripped strings with missing values as ''."""
    if column not in df:
        return pd.Series([""] * len(df), index=df.index)
    return df[column].astype("string").fillna("").str.strip()


def _number(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df:
        return pd.Series([np.nan] * len(df), index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce").astype(float)


def data_quantity(df: pd.DataFrame, patient_modalities: tuple[str, ...] = PATIENT_MODALITIES
                  ) -> pd.Series:
    """Patients for CT/MRI/microscopy, images otherwise (NaN where that count is missing)."""
    patients = _text(df, "modality").isin(patient_modalities)
    return _number(df, "n_patients").where(patients, _number(df, "n_images"))


def normalised_size(df: pd.DataFrame, patient_modalities: tuple[str, ...] = PATIENT_MODALITIES
                    ) -> pd.Series:
    """Data quantity per class, the x axis of Figure 6."""
    classes = _number(df, "n_classes")
    return data_quantity(df, patient_modalities) / classes.where(classes > 0)


def reasons_for(selection: str) -> tuple[str, ...]:
    """The exclusion reasons of a selection, in the order they are applied."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}. Got {selection!r} instead.")
    return REVIEW_REASONS if selection == "review" else ALL_REASONS


def select_subset(df: pd.DataFrame, selection: str = "review") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply a Figure 6 selection; return (kept rows, excluded [study_id, reason])."""
    order = reasons_for(selection)
    combined = _text(df, "metric_scope").eq(COMBINED)
    if selection == "all":
        classes = _number(df, "n_classes")
        tests = {COMBINED: combined,
                 "no AUC or accuracy": _number(df, "auc").isna() & _number(df, "accuracy").isna(),
                 "no data quantity": ~(data_quantity(df) > 0), "no n_classes": ~(classes > 0)}
    else:
        category, tl, modality = _text(df, "backbone_category"), _text(df, "tl_type"), _text(df, "modality")
        family = _text(df, "backbone_family")
        tests = {
            "backbone not coded": category.eq(""),
            "multiple models": category.eq("multiple") | family.eq("many"),
            "minor model": category.eq("other") | family.eq("other"),
            "TL type not coded": tl.eq(""),
            "multiple TL types": tl.eq("many"),
            "modality not coded": modality.eq(""),
            "multiple modalities": modality.eq("many"),
            COMBINED: combined,
        }
    reason = pd.Series([None] * len(df), index=df.index, dtype=object)
    for name in order:
        reason = reason.where(reason.notna() | ~tests[name], name)
    ids = _text(df, "study_id")
    excluded = pd.DataFrame({"study_id": ids[reason.notna()], "reason": reason[reason.notna()]})
    return df.loc[reason.isna()].copy(), excluded.reset_index(drop=True)


@dataclass
class SpearmanResult:
    """Spearman correlation of normalised size with one metric, with its bootstrap CI.

    r, p and the CI bounds are NaN when too few points leave them undefined or
    unreported (`note` says why); `points` are the (study_id, size, value) pairs used.
    """

    metric: str
    n: int
    r: float
    p: float
    ci_low: float
    ci_high: float
    ci_level: float
    n_boot: int
    seed: int | None
    selection: str = "review"
    note: str = ""
    points: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["study_id", "size", "value"]),
                                 repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in self.__dict__.items() if k != "points"}


@dataclass
class SpearmanAnalysis:
    """Everything Figure 6 needs: kept/excluded studies, tidy points and the results."""

    subset: pd.DataFrame
    excluded: pd.DataFrame
    points: pd.DataFrame
    results: dict[str, SpearmanResult] = field(default_factory=dict)
    selection: str = "review"

    def excluded_counts(self) -> dict[str, int]:
        counts = self.excluded["reason"].value_counts()
        return {r: int(counts.get(r, 0)) for r in reasons_for(self.selection)}

    def both_metrics(self) -> int:
        """Kept studies plotted on both panels (AUC and accuracy)."""
        per = self.points.groupby("study_id")["metric"].nunique()
        return int((per == len(METRICS)).sum())


def bootstrap_spearman(x: np.ndarray, y: np.ndarray, n_boot: int = 2000, seed: int | None = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of Spearman's r (rows resampled together); NaN if undefined."""
    from scipy.stats import rankdata

    x, y = np.asarray(x, float), np.asarray(y, float)
    if n_boot <= 0 or len(x) < 3:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    rx, ry = rankdata(x[idx], axis=1), rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)
    if np.isnan(r).all():
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(r, [tail, 100 - tail])
    return float(low), float(high)


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman r and two-sided p (scipy); NaN for fewer than 3 points or constant input."""
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    res = spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def _points(subset: pd.DataFrame) -> pd.DataFrame:
    size = normalised_size(subset)
    frames = []
    for metric in METRICS:
        value = _number(subset, metric)
        keep = size.notna() & value.notna() & (size > 0)
        frames.append(pd.DataFrame({
            "study_id": _text(subset, "study_id")[keep], "metric": metric,
            "size": size[keep], "value": value[keep],
            **{col: _text(subset, col)[keep].replace("", NOT_CODED)
               for col in ("modality", "tl_type", "backbone_family")},
        }))
    return pd.concat(frames, ignore_index=True)


def analyse(df: pd.DataFrame, n_boot: int = 2000, seed: int | None = 0,
            level: float = 0.95, selection: str = "review") -> SpearmanAnalysis:
    """Select the Figure 6 subset and correlate normalised size with AUC and accuracy."""
    subset, excluded = select_subset(df, selection)
    points = _points(subset)
    analysis = SpearmanAnalysis(subset=subset, excluded=excluded, points=points, selection=selection)
    for metric in METRICS:
        p = points[points["metric"] == metric]
        analysis.results[metric] = correlate(metric, p, n_boot, seed, level, selection)
    return analysis


def analyse_both(df: pd.DataFrame, n_boot: int = 2000, seed: int | None = 0,
                 level: float = 0.95) -> dict[str, SpearmanAnalysis]:
    """Both selections side by side: {"review": ..., "all": ...}."""
    return {s: analyse(df, n_boot=n_boot, seed=seed, level=level, selection=s) for s in SELECTIONS}


def correlate(metric: str, points: pd.DataFrame, n_boot: int, seed: int | None, level: float,
              selection: str = "review") -> SpearmanResult:
    """Spearman r of one metric's points; p and the bootstrap CI only from MIN_N_INFERENCE points."""
    x, y = points["size"].to_numpy(float), points["value"].to_numpy(float)
    n = len(points)
    r, pval = spearman(x, y) if n >= MIN_N_R else (math.nan, math.nan)
    low = high = math.nan
    note = ""
    if n < MIN_N_R:
        note = f"{TOO_FEW} (n = {n} < {MIN_N_R}): no correlation"
    elif n < MIN_N_INFERENCE:
        pval, note = math.nan, f"{TOO_FEW} (n = {n} < {MIN_N_INFERENCE}): r only, no p and no interval"
    else:
        low, high = bootstrap_spearman(x, y, n_boot=n_boot, seed=seed, level=level)
    if n >= MIN_N_R and math.isnan(r):
        note = "a constant axis: r undefined"
    return SpearmanResult(metric, n, r, pval, low, high, level, n_boot, seed, selection, note,
                          points[["study_id", "size", "value"]].reset_index(drop=True))


# --------------------------------------------------------------------------- published r, p
def implied_p(r: float, n: int) -> float:
    """Two-sided p of a Spearman r at sample size n (t approximation, as scipy uses)."""
    from scipy.stats import t as t_dist

    if n < 3 or abs(r) >= 1:
        return math.nan if n < 3 else 0.0
    t = r * math.sqrt((n - 2) / (1 - r * r))
    return float(2 * t_dist.sf(abs(t), n - 2))


def n_for_p(r: float, p: float, n_max: int = 1_000_000) -> int | None:
    """Smallest n at which Spearman r reaches two-sided p <= `p` (None if beyond n_max)."""
    lo, hi = 3, n_max
    if implied_p(r, hi) > p:
        return None
    while lo < hi:  # implied_p falls as n grows
        mid = (lo + hi) // 2
        if implied_p(r, mid) <= p:
            hi = mid
        else:
            lo = mid + 1
    return lo


def r_for_p(p: float, n: int) -> float:
    """|r| needed for two-sided p at sample size n (t approximation)."""
    from scipy.stats import t as t_dist

    t = t_dist.isf(p / 2, n - 2)
    return float(t / math.sqrt(n - 2 + t * t))


# --------------------------------------------------------------------------- figure
SELECTION_TITLES = {"review": "one backbone model, one TL type, one modality (the review's selection)",
                    "all": "every study with a data size and the metric"}


def _stat_text(res: SpearmanResult | None) -> str:
    if res is None or math.isnan(res.r):
        return f"n = {0 if res is None else res.n}: {TOO_FEW}"
    text = f"n = {res.n}, r = {res.r:.2f}"
    if math.isnan(res.p):
        return text + f" ({TOO_FEW} for p)"
    text += f", p = {res.p:.3f}"
    if not math.isnan(res.ci_low):
        text += f", {res.ci_level:.0%} CI [{res.ci_low:.2f}, {res.ci_high:.2f}]"
    return text


def figure(analysis: SpearmanAnalysis):
    """Figure 6 as in the paper: AUC (a, c) and accuracy (b, d) against data size per class;
    colour = modality in a/b and backbone model in c/d; marker shape = TL type."""
    import seaborn as sns

    from review.plotting import FAMILY_COLORS, MODALITY_COLORS, TL_MARKERS, color_for, panel_letter, pyplot

    plt = pyplot()
    panels = [("auc", "modality", MODALITY_COLORS), ("accuracy", "modality", MODALITY_COLORS),
              ("auc", "backbone_family", FAMILY_COLORS), ("accuracy", "backbone_family", FAMILY_COLORS)]
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.5), sharex=True)
        for ax, letter, (metric, colour_by, palette) in zip(axes.flat, "abcd", panels):
            pts = analysis.points[analysis.points["metric"] == metric]
            for tl, grp in pts.groupby("tl_type"):  # seaborn cannot mix line-art (x) and filled markers
                sns.scatterplot(data=grp, x="size", y="value", hue=colour_by, marker=TL_MARKERS.get(tl, "o"),
                                palette={k: color_for(k, palette) for k in grp[colour_by].unique()},
                                s=55, linewidth=1.2 if TL_MARKERS.get(tl) == "x" else 0.4, legend=False, ax=ax)
            if len(pts) and (pts["size"] > 0).all():
                ax.set_xscale("log")
            ax.set_ylabel("AUC" if metric == "auc" else "accuracy")
            ax.set_xlabel("")
            ax.set_title(_stat_text(analysis.results.get(metric)), fontsize=9)
            panel_letter(ax, letter)
        fig.supxlabel("normalised data quantity: per class; patients for CT, MRI and microscopy, images "
                      "otherwise (log scale)", fontsize=9, x=0.4)
        fig.suptitle(f"Figure 6, {SELECTION_TITLES[analysis.selection]}", fontsize=10, x=0.4)
        _legends(fig, analysis.points)
        fig.tight_layout(rect=(0, 0, 0.8, 1))
    return fig


def _legends(fig, points: pd.DataFrame) -> None:
    from matplotlib.lines import Line2D

    from review.plotting import FAMILY_COLORS, MODALITY_COLORS, TL_MARKERS, color_for

    def handles(values, palette):
        return [Line2D([], [], ls="", marker="o", color=color_for(v, palette), label=v) for v in values]

    mods = sorted(points["modality"].unique()) if len(points) else []
    fams = sorted(points["backbone_family"].unique()) if len(points) else []
    tls = sorted(points["tl_type"].unique()) if len(points) else []
    fig.legend(handles=handles(mods, MODALITY_COLORS), title="modality (a, b)",
               loc="upper left", bbox_to_anchor=(0.81, 0.98), fontsize=8)
    fig.legend(handles=handles(fams, FAMILY_COLORS), title="backbone model (c, d)",
               loc="center left", bbox_to_anchor=(0.81, 0.5), fontsize=8)
    fig.legend(handles=[Line2D([], [], ls="", marker=TL_MARKERS.get(t, "o"), color="black", label=t)
                        for t in tls], title="TL type (marker)", loc="lower left",
               bbox_to_anchor=(0.81, 0.02), fontsize=8)
