"""Pure pandas views behind the dashboard's pages (no Streamlit here).

Each function takes tidy frames (studies: one row per study, as
`review.store.load_studies` returns them; trials: one row per finished
harness trial, as `dashboard.sources.trials_frame` returns them) and returns
a new tidy frame, so pages stay thin and every number shown is testable.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CLASSES = ("OAP", "IN", "OBS")

#: harness strategy -> the review's TL type (codebook vocabulary of `tl_type`).
#: "fine-tuning from scratch" is the review's name for updating every layer
#: from pretrained weights, i.e. the harness's full_finetune. Hybrid variants
#: are named hybrid_svm, hybrid_rf, ...
STRATEGY_TO_TL_TYPE: dict[str, str] = {
    "feature_extractor": "feature extractor",
    "hybrid": "feature extractor hybrid",
    "partial_finetune": "fine-tuning",
    "full_finetune": "fine-tuning from scratch",
}


def tl_type(strategy: str) -> str:
    """The review's TL type of a harness strategy (unknown strategies keep their own name)."""
    base = "hybrid" if str(strategy).startswith("hybrid") else str(strategy)
    return STRATEGY_TO_TL_TYPE.get(base, str(strategy))

#: harness backbone (keras.applications name) -> the review's backbone family.
#: The review's families are Inception, AlexNet, VGG, ResNet, Inception-ResNet
#: and "other" (everything else, e.g. DenseNet, MobileNet, Xception, CBR).
FAMILY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("inceptionresnet", "Inception-ResNet"),
    ("inception", "Inception"),
    ("resnet", "ResNet"),
    ("vgg", "VGG"),
    ("alexnet", "AlexNet"),
)

#: Ho & Kim 2021 Table 2 "depth" -> harness strategy (depth 0 = frozen base +
#: trained head; depth 1 = last block unfrozen too). CBR baselines (no depth)
#: are trained from scratch with no pretrained weights.
DEPTH_TO_STRATEGY: dict[str, str] = {"0": "feature_extractor", "1": "partial_finetune"}

TABLE2_METRICS = ("f1_OAP", "f1_IN", "f1_OBS", "auc_weighted", "accuracy", "soft_accuracy")


def backbone_family(backbone: str) -> str:
    """The review's family of a Keras backbone name (CBR, MobileNet, DenseNet... -> 'other')."""
    key = str(backbone).replace("-", "").replace("_", "").lower()
    for prefix, family in FAMILY_PREFIXES:
        if key.startswith(prefix):
            return family
    return "other"


# --------------------------------------------------------------------- studies
@dataclass(frozen=True)
class StudyFilter:
    """The Literature page's filters; an empty tuple means 'no restriction'."""

    years: tuple[int, int] | None = None
    modality: tuple[str, ...] = ()
    subject: tuple[str, ...] = ()
    backbone_family: tuple[str, ...] = ()
    tl_type: tuple[str, ...] = ()

    def apply(self, studies: pd.DataFrame) -> pd.DataFrame:
        """Rows that pass every active filter (a missing value fails an active filter)."""
        mask = pd.Series(True, index=studies.index)
        if self.years is not None:
            year = pd.to_numeric(studies["year"], errors="coerce")
            mask &= year.between(*self.years).fillna(False).astype(bool)
        for column in ("modality", "subject", "backbone_family", "tl_type"):
            chosen = getattr(self, column)
            if chosen:
                mask &= studies[column].isin(chosen).fillna(False).astype(bool)
        return studies.loc[mask]


def literature_usage(studies: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of `by` (tl_type or backbone_family): how many studies, and what they reported.

    Reported performance is each study's best test accuracy / AUC as coded;
    `n_accuracy` / `n_auc` say how many studies stated it.
    """
    total = len(studies)
    rows = []
    for value, group in studies.dropna(subset=[by]).groupby(by, sort=True):
        acc = pd.to_numeric(group["accuracy"], errors="coerce").dropna()
        auc = pd.to_numeric(group["auc"], errors="coerce").dropna()
        rows.append({by: value, "studies": len(group),
                     "share": len(group) / total if total else np.nan,
                     "median_accuracy": acc.median() if len(acc) else np.nan, "n_accuracy": len(acc),
                     "median_auc": auc.median() if len(auc) else np.nan, "n_auc": len(auc)})
    out = pd.DataFrame(rows, columns=[by, "studies", "share", "median_accuracy", "n_accuracy",
                                      "median_auc", "n_auc"])
    return out.sort_values("studies", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------- trials
@dataclass(frozen=True)
class TrialFilter:
    """The Experiments page's filters; an empty tuple means 'no restriction'."""

    backbone: tuple[str, ...] = ()
    strategy: tuple[str, ...] = ()
    weights: tuple[str, ...] = ()
    dataset: tuple[str, ...] = ()
    extra: dict[str, tuple] = field(default_factory=dict)

    def apply(self, trials: pd.DataFrame) -> pd.DataFrame:
        mask = pd.Series(True, index=trials.index)
        for column in ("backbone", "strategy", "weights", "dataset"):
            chosen = getattr(self, column)
            if chosen:
                mask &= trials[column].astype(str).isin(chosen)
        for column, chosen in self.extra.items():
            if chosen:
                mask &= trials[column].isin(chosen)
        return trials.loc[mask]


GROUP = ["backbone", "strategy", "weights", "dataset", "data_size"]


def leaderboard(trials: pd.DataFrame, metric: str, group: Sequence[str] = GROUP,
                ascending: bool = False) -> pd.DataFrame:
    """Mean, std and count of `metric` over seeds/repeats per configuration, best first."""
    group = [g for g in group if g in trials.columns]
    data = trials.dropna(subset=[metric])
    if data.empty:
        return pd.DataFrame(columns=[*group, "mean", "std", "trials", "mean_wall_time_s"])
    agg = data.groupby(group, dropna=False, sort=False).agg(
        mean=(metric, "mean"), std=(metric, "std"), trials=(metric, "size"),
        mean_wall_time_s=("wall_time_s", "mean"))
    return agg.sort_values("mean", ascending=ascending, kind="stable").reset_index()


def per_class_f1(trials: pd.DataFrame, group: Sequence[str] = ("backbone", "strategy", "weights")) -> pd.DataFrame:
    """Mean F1 per class for each configuration: rows = 'backbone / strategy / weights', columns = classes."""
    cols = [f"f1_{c}" for c in CLASSES if f"f1_{c}" in trials.columns]
    if trials.empty or not cols:
        return pd.DataFrame(columns=list(CLASSES))
    table = trials.groupby(list(group), sort=True)[cols].mean()
    table.index = [" / ".join(map(str, idx)) if isinstance(idx, tuple) else str(idx) for idx in table.index]
    table.columns = [c.removeprefix("f1_") for c in cols]
    return table


def confusion_total(trials: pd.DataFrame) -> np.ndarray | None:
    """Sum of the confusion matrices (rows = true, columns = predicted) of the given trials."""
    mats = [np.asarray(m, dtype=float) for m in trials.get("confusion", pd.Series(dtype=object)).dropna()
            if np.asarray(m).ndim == 2]
    if not mats:
        return None
    return np.sum(mats, axis=0)


def pareto_mask(cost: Iterable[float], value: Iterable[float]) -> np.ndarray:
    """True where no other point is at least as cheap and at least as good, and strictly better in one."""
    cost = np.asarray(list(cost), dtype=float)
    value = np.asarray(list(value), dtype=float)
    keep = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        dominated = (cost <= cost[i]) & (value >= value[i]) & ((cost < cost[i]) | (value > value[i]))
        keep[i] = not dominated.any()
    return keep


def cost_vs_metric(trials: pd.DataFrame, metric: str, cost: str = "wall_time_s") -> pd.DataFrame:
    """Per configuration: mean cost and mean metric, with the Pareto front flagged."""
    board = leaderboard(trials.dropna(subset=[cost]), metric)
    if board.empty:
        return board.assign(cost=pd.Series(dtype=float), pareto=pd.Series(dtype=bool))
    costs = trials.dropna(subset=[metric, cost]).groupby(
        [g for g in GROUP if g in trials.columns], dropna=False, sort=False)[cost].mean()
    board = board.merge(costs.rename("cost").reset_index(), on=[g for g in GROUP if g in trials.columns])
    board["pareto"] = pareto_mask(board["cost"], board["mean"])
    return board


def learning_curves(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean metric per (backbone, strategy, weights) and number of training patients."""
    data = trials.dropna(subset=[metric, "data_size"])
    if data.empty:
        return pd.DataFrame(columns=["configuration", "data_size", "mean", "std", "trials"])
    out = data.groupby(["backbone", "strategy", "weights", "data_size"], sort=True)[metric].agg(
        ["mean", "std", "size"]).reset_index().rename(columns={"size": "trials"})
    out.insert(0, "configuration", out["backbone"] + " / " + out["strategy"] + " / " + out["weights"].astype(str))
    return out


# ---------------------------------------------------------------- side by side
def harness_usage(trials: pd.DataFrame, by: str, metric: str = "accuracy") -> pd.DataFrame:
    """What the harness measured per review TL type or backbone family, and what it cost."""
    data = trials.assign(tl_type=trials["strategy"].map(tl_type),
                         backbone_family=trials["backbone"].map(backbone_family))
    if data.empty:
        return pd.DataFrame(columns=[by, "harness_trials", f"harness_mean_{metric}",
                                     f"harness_best_{metric}", "harness_mean_wall_time_s"])
    out = data.groupby(by, sort=True).agg(
        harness_trials=(metric, "size"), **{f"harness_mean_{metric}": (metric, "mean"),
                                            f"harness_best_{metric}": (metric, "max")},
        harness_mean_wall_time_s=("wall_time_s", "mean"))
    return out.reset_index()


def side_by_side(studies: pd.DataFrame, trials: pd.DataFrame, by: str, metric: str = "accuracy") -> pd.DataFrame:
    """Literature usage and reported performance next to the harness's measurements, per `by`.

    One measure at a time: `metric` "accuracy" compares reported accuracy with
    harness accuracy; an AUC metric compares reported AUC with the harness's
    `metric` (e.g. auc_weighted). Counts of nothing are 0, not missing.
    """
    measure = "auc" if metric.startswith("auc") else "accuracy"
    lit = literature_usage(studies, by)[[by, "studies", "share", f"median_{measure}", f"n_{measure}"]]
    lit = lit.rename(columns={"studies": "lit_studies", "share": "lit_share",
                              f"median_{measure}": f"lit_median_{measure}", f"n_{measure}": "lit_n_reporting"})
    har = harness_usage(trials, by, metric)
    out = lit.merge(har, on=by, how="outer").sort_values(by, kind="stable").reset_index(drop=True)
    for col in ("lit_studies", "lit_n_reporting", "harness_trials"):
        out[col] = out[col].fillna(0).astype(int)
    out["lit_share"] = out["lit_share"].fillna(0.0)
    return out


def harness_scatter_points(trials: pd.DataFrame, metric: str = "accuracy",
                           n_classes: int = len(CLASSES)) -> pd.DataFrame:
    """The user's runs in the review's Figure 6 units: training patients per class vs performance.

    The review normalises data quantity per class and counts patients for MRI,
    so a harness run on N training patients sits at x = N / 3.
    """
    data = trials.dropna(subset=[metric, "data_size"])
    out = data.groupby(["backbone", "strategy", "weights", "data_size"], sort=True)[metric].mean().reset_index()
    out["data_per_class"] = out["data_size"].astype(float) / n_classes
    out["label"] = out["backbone"] + " / " + out["strategy"] + " / " + out["weights"].astype(str)
    return out.rename(columns={metric: "value"})


def _key(name: object) -> str:
    """Backbone name compared case-, dash- and dot-insensitively (MobileNetV1-0.25 == mobilenetv1025)."""
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def table2_comparison(table2: pd.DataFrame, trials: pd.DataFrame,
                      match: dict[str, str] | None = None) -> pd.DataFrame:
    """Ho & Kim's Table 2 next to the harness's mean result for the same backbone and depth.

    A Table 2 row (backbone = harness registry name, depth) matches harness
    trials with that backbone and strategy (depth 0 -> feature_extractor, 1 -> partial_finetune, CBR ->
    full_finetune). `match` maps Table 2 backbone names to harness names when
    they differ. Differences are harness minus published; rows with no
    matching trial keep NaN, never a made-up value.
    """
    match = match or {}
    rows = []
    for _, pub in table2.iterrows():
        depth = "" if pd.isna(pub.get("depth")) else str(pub["depth"]).split(".")[0]
        strategy = DEPTH_TO_STRATEGY.get(depth, "full_finetune")
        name = _key(match.get(pub["backbone"], pub["backbone"]))
        hit = trials[(trials["backbone"].map(_key) == name) & (trials["strategy"] == strategy)]
        row = {"model": pub["model"], "depth": depth or "–", "strategy": strategy,
               "harness_trials": len(hit),
               "harness_weights": "; ".join(sorted(hit["weights"].astype(str).unique())) if len(hit) else "",
               "harness_datasets": "; ".join(sorted(hit["dataset"].astype(str).unique())) if len(hit) else ""}
        for m in TABLE2_METRICS:
            published = float(pub[m])
            measured = float(hit[m].mean()) if len(hit) and m in hit and hit[m].notna().any() else np.nan
            row[f"{m}_published"] = published
            row[f"{m}_harness"] = measured
            row[f"{m}_diff"] = measured - published
        rows.append(row)
    return pd.DataFrame(rows)


def literature_points(studies: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Studies in the review's Figure 6 units: data quantity per class vs reported performance.

    The x value is `review.spearman.normalised_size` (patients for CT, MRI and
    microscopy, images otherwise, divided by the number of classes); all coded
    studies are shown, not only the Spearman subset; incomplete rows are left out.
    """
    from review.spearman import normalised_size

    column = "auc" if metric.startswith("auc") else "accuracy"
    out = studies.assign(data_per_class=normalised_size(studies).astype(float),
                         value=pd.to_numeric(studies[column], errors="coerce").astype(float))
    out = out[(out["data_per_class"] > 0) & out["value"].notna()]
    return out[["study_id", "title", "year", "modality", "tl_type", "backbone_family", "data_per_class", "value"]]


def split_status(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(finished trials, failed trials): only finished ones have metrics to compare."""
    done = trials["status"].astype(str) == "done"
    return trials.loc[done], trials.loc[~done]
