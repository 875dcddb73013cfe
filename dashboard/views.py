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
    """True where no other point is at least as cheap and at least as good, and strictly better in one.

    O(n log n): a point is dominated when a strictly cheaper point is at least
    as good, or a point of the same cost is strictly better.
    """
    cost = np.asarray(list(cost), dtype=float)
    value = np.asarray(list(value), dtype=float)
    if not len(cost):
        return np.zeros(0, dtype=bool)
    levels, group = np.unique(cost, return_inverse=True)
    best_at = np.full(len(levels), -np.inf)
    np.maximum.at(best_at, group, value)
    best_cheaper = np.concatenate([[-np.inf], np.maximum.accumulate(best_at)[:-1]])
    return ~((best_cheaper[group] >= value) | (best_at[group] > value))


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
    """Ho & Kim's Table 2 next to the harness's mean ± sd over seeds, per backbone, depth and starting weights.

    A Table 2 row (backbone = harness registry name, depth) matches harness
    trials with that backbone and strategy (depth 0 -> feature_extractor, 1 ->
    partial_finetune, CBR -> full_finetune); matched trials are split by their
    weights (one output row each), since ImageNet, `none` and `source:` starts
    are different experiments. `match` maps Table 2 backbone names to harness
    names when they differ. Differences are harness minus published; a row with
    no matching trial keeps NaN (and empty weights), never a made-up value.
    """
    match = match or {}
    keys = trials["backbone"].map({b: _key(b) for b in trials["backbone"].unique()})
    rows = []
    for _, pub in table2.iterrows():
        depth = "" if pd.isna(pub.get("depth")) else str(pub["depth"]).split(".")[0]
        strategy = DEPTH_TO_STRATEGY.get(depth, "full_finetune")
        name = _key(match.get(pub["backbone"], pub["backbone"]))
        hit = trials[(keys == name) & (trials["strategy"] == strategy)]
        label = f"{pub['model']} · depth {depth}" if depth else f"{pub['model']} · from scratch"
        groups = list(hit.groupby(hit["weights"].astype(str), sort=True)) if len(hit) else [("", hit)]
        for weights, group in groups:
            row = {"model": pub["model"], "depth": depth or "–", "label": label, "strategy": strategy,
                   "harness_weights": weights, "harness_trials": len(group),
                   "harness_datasets": "; ".join(sorted(group["dataset"].astype(str).unique())) if len(group) else ""}
            for m in TABLE2_METRICS:
                values = group[m].dropna() if m in group else pd.Series(dtype=float)
                published = float(pub[m])
                measured = float(values.mean()) if len(values) else np.nan
                row[f"{m}_published"] = published
                row[f"{m}_harness"] = measured
                row[f"{m}_harness_sd"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
                row[f"{m}_diff"] = measured - published
            rows.append(row)
    return pd.DataFrame(rows)


def table2_dumbbell(comparison: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One Table 2 column as a dumbbell: per row, the published value and each weights' harness mean ± sd.

    Columns: label (model · depth), model, depth, weights, published, harness
    (mean), sd, low/high (mean ∓ sd; the mean itself when sd is undefined),
    trials, diff. Rows without a matching run keep only the published value.
    """
    out = comparison[["label", "model", "depth", "harness_weights", "harness_trials"]].rename(
        columns={"harness_weights": "weights", "harness_trials": "trials"})
    out = out.assign(published=comparison[f"{metric}_published"], harness=comparison[f"{metric}_harness"],
                     sd=comparison[f"{metric}_harness_sd"], diff=comparison[f"{metric}_diff"])
    spread = out["sd"].fillna(0.0)
    out["low"], out["high"] = out["harness"] - spread, out["harness"] + spread
    return out.reset_index(drop=True)


def literature_points(studies: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Studies in the review's Figure 6 units: data quantity per class vs reported performance.

    The x value is `review.spearman.normalised_size` (patients for CT, MRI and
    microscopy, images otherwise, divided by the number of classes); all coded
    studies are shown, not only the Spearman subset; incomplete rows, and
    metrics of models that combine TL with other features, are left out.
    """
    from review.spearman import normalised_size

    column = literature_measure(metric)
    out = tl_model_metrics(studies).copy()
    out = out.assign(data_per_class=normalised_size(out).astype(float),
                     value=pd.to_numeric(out[column], errors="coerce").astype(float))
    out = out[(out["data_per_class"] > 0) & out["value"].notna()]
    return out[["study_id", "title", "year", "modality", "tl_type", "backbone_family", "data_per_class", "value"]]


def split_status(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(finished trials, failed trials): only finished ones have metrics to compare."""
    done = trials["status"].astype(str) == "done"
    return trials.loc[done], trials.loc[~done]


# ------------------------------------------------------------ charts of the Side-by-side page
#: the review's TL types in the codebook's order (the harness's four strategies map onto the first four)
TL_TYPES = ("feature extractor", "feature extractor hybrid", "fine-tuning", "fine-tuning from scratch", "many")
#: harness phases with a throughput measurement (timings["throughput"], flattened by the results schema)
PHASES = ("cache_fill", "head_training", "fine_tuning", "test")
COMBINED = "TL combined with other features"


def literature_measure(metric: str) -> str:
    """The studies CSV column comparable with a harness metric (accuracy -> accuracy, auc_* -> auc)."""
    return "auc" if str(metric).startswith("auc") else "accuracy"


def tl_model_metrics(studies: pd.DataFrame) -> pd.DataFrame:
    """Studies whose metrics measure the TL model itself (metric_scope empty or 'TL model')."""
    if "metric_scope" not in studies:
        return studies
    return studies[studies["metric_scope"].astype("string").fillna("") != COMBINED]


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """Column `name`, or missing values when the frame does not have it."""
    return df[name] if name in df else pd.Series(pd.NA, index=df.index, dtype=object)


def _count(value: object, unit: str) -> str | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else f"{int(number):,} {unit}"


def study_size(row: pd.Series) -> str:
    """A study's data size as coded, in words: '3,000 images; 300 patients; 2 classes' (or 'not stated')."""
    parts = [_count(row.get(c), unit) for c, unit in (("n_images", "images"), ("n_patients", "patients"),
                                                       ("n_classes", "classes"))]
    return "; ".join(p for p in parts if p) or "not stated"


STRATEGY_COLUMNS = ["tl_type", "origin", "value", "label", "data_size", "source", "backbone", "weights",
                    "strategy", "seed"]


def strategy_values(studies: pd.DataFrame, trials: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Per review TL type, every study's reported value and every harness trial's measured value, one row each.

    `origin` is "literature" (one row per study with a TL type and the measure;
    label = study, data_size = its coded size, source = its source_url) or
    "harness" (one row per finished trial with the metric; backbone, weights,
    strategy, seed; data_size = training patients). Literature AUC is compared
    with the harness metric `metric` (e.g. auc_weighted). Rows are in the
    codebook's TL type order.
    """
    lit = tl_model_metrics(studies)
    value = pd.to_numeric(_col(lit, literature_measure(metric)), errors="coerce").astype(float)
    lit = lit[_col(lit, "tl_type").notna() & value.notna()]
    literature = pd.DataFrame({
        "tl_type": _col(lit, "tl_type").astype(str), "origin": "literature", "value": value[lit.index],
        "label": (_col(lit, "study_id").astype(str) + " (" + _col(lit, "year").astype("string").fillna("?")
                  + "): " + _col(lit, "title").astype("string").fillna("").str.slice(0, 90)),
        "data_size": [study_size(row) for _, row in lit.iterrows()],
        "source": _col(lit, "source_url"),
    }, index=lit.index)
    done = trials.dropna(subset=[metric]) if metric in trials else trials.iloc[0:0]
    harness = pd.DataFrame({
        "tl_type": done["strategy"].map(tl_type),
        "origin": "harness",
        "value": done[metric].astype(float) if len(done) else pd.Series(dtype=float),
        "label": done["trial_id"].astype(str),
        "data_size": done["data_size"].map(lambda n: f"{int(n)} training patients" if pd.notna(n) else "not stated"),
        "source": None,
        "backbone": done["backbone"], "weights": done["weights"].astype(str), "strategy": done["strategy"],
        "seed": done.get("seed"),
    })
    out = pd.concat([literature, harness], ignore_index=True).reindex(columns=STRATEGY_COLUMNS)
    order = {t: i for i, t in enumerate(TL_TYPES)}
    out["order"] = out["tl_type"].map(lambda t: order.get(t, len(order)))
    out = out.sort_values(["order", "origin"], kind="stable").drop(columns="order").reset_index(drop=True)
    return _compact(out, ("tl_type", "origin", "data_size", "backbone", "weights", "strategy"))


def _compact(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Repeated text columns as categories: thousands of trials travel to the browser as a small dictionary."""
    for column in columns:
        frame[column] = frame[column].astype("category")
    return frame


def strategy_summary(values: pd.DataFrame) -> pd.DataFrame:
    """Per TL type and origin: n, median, quartiles (what the chart's boxes show), to check and download."""
    if values.empty:
        return pd.DataFrame(columns=["tl_type", "origin", "n", "median", "q1", "q3", "min", "max"])
    grouped = values.groupby(["tl_type", "origin"], sort=False)["value"]
    out = grouped.agg(n="size", median="median", min="min", max="max").reset_index()
    out["q1"] = grouped.quantile(0.25).to_numpy()
    out["q3"] = grouped.quantile(0.75).to_numpy()
    return out[["tl_type", "origin", "n", "median", "q1", "q3", "min", "max"]]


SIZE_COLUMNS = ["panel", "kind", "data_per_class", "value", "sd", "trials", "label", "group", "data_size"]


def size_performance(selections: dict[str, pd.DataFrame], trials: pd.DataFrame, metric: str = "accuracy",
                     n_classes: int = len(CLASSES)) -> pd.DataFrame:
    """The literature's size–performance points per Figure 6 selection, with the harness's learning curves.

    `selections` maps a panel title to that selection's points (columns
    study_id, size = data per class, value, and optionally title, modality).
    Harness curves (mean ± sd over trials per backbone / strategy / weights and
    number of training patients) are put on every panel in the review's unit:
    N training patients of a 3-class task sit at N / 3 patients per class.
    """
    frames = []
    curves = learning_curves(trials, metric) if metric in trials else learning_curves(trials.iloc[0:0], metric)
    for panel, points in selections.items():
        if len(points):
            frames.append(pd.DataFrame({
                "panel": panel, "kind": "study", "data_per_class": points["size"].astype(float),
                "value": points["value"].astype(float), "sd": np.nan, "trials": 1,
                "label": points["study_id"].astype(str) + (": " + points["title"].astype("string").fillna("")
                                                           if "title" in points else ""),
                "group": points["modality"].astype(str) if "modality" in points else "study",
                "data_size": points["size"].map(lambda v: f"{v:,.1f} per class"),
            }))
        if len(curves):
            frames.append(pd.DataFrame({
                "panel": panel, "kind": "harness", "data_per_class": curves["data_size"].astype(float) / n_classes,
                "value": curves["mean"].astype(float), "sd": curves["std"].astype(float),
                "trials": curves["trials"].astype(int), "label": curves["configuration"],
                "group": curves["configuration"],
                "data_size": curves["data_size"].map(lambda n: f"{int(n)} training patients"),
            }))
    if not frames:
        return pd.DataFrame(columns=SIZE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SIZE_COLUMNS]


def throughput(trials: pd.DataFrame) -> pd.DataFrame:
    """Per trial and phase: images per second and the share of the device's reference throughput.

    Long format from the flattened columns images_per_s_<phase> and
    share_of_reference_<phase>; phases a trial did not run (or did not
    measure) are left out.
    """
    keep = ["trial_id", "backbone", "strategy", "weights", "device"]
    frames = []
    for phase in PHASES:
        speed = f"images_per_s_{phase}"
        if speed not in trials:
            continue
        share = trials.get(f"share_of_reference_{phase}", pd.Series(np.nan, index=trials.index))
        part = trials[[c for c in keep if c in trials]].assign(
            phase=phase, images_per_s=pd.to_numeric(trials[speed], errors="coerce"),
            share_of_reference=pd.to_numeric(share, errors="coerce"))
        frames.append(part[part["images_per_s"].notna()])
    columns = [*keep, "phase", "images_per_s", "share_of_reference"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)


def throughput_by_configuration(speed: pd.DataFrame) -> pd.DataFrame:
    """Median images/s and share of reference per backbone, strategy, weights, device and phase (n = trials)."""
    keys = [c for c in ("backbone", "strategy", "weights", "device", "phase") if c in speed]
    out = speed.groupby(keys, sort=True, dropna=False).agg(
        images_per_s=("images_per_s", "median"), share_of_reference=("share_of_reference", "median"),
        trials=("images_per_s", "size")).reset_index()
    return out


def cost_points(trials: pd.DataFrame, metric: str, cost: str = "wall_time_s") -> pd.DataFrame:
    """Per finished trial: its cost and its metric, with the trials on the Pareto front flagged."""
    columns = ["trial_id", "backbone", "strategy", "weights", "data_size", "seed", cost, metric]
    data = trials.dropna(subset=[metric, cost]) if {metric, cost} <= set(trials.columns) else trials.iloc[0:0]
    out = data[[c for c in columns if c in data]].rename(columns={cost: "cost", metric: "value"}).copy()
    out["pareto"] = pareto_mask(out["cost"], out["value"]) if len(out) else pd.Series(dtype=bool)
    out = out.sort_values("cost", kind="stable").reset_index(drop=True)
    return _compact(out, [c for c in ("backbone", "strategy", "weights") if c in out])


FOREST_COLUMNS = ["group", "kind", "label", "estimate", "ci_low", "ci_high", "weight", "k"]


def forest_rows(pooled: dict[str, tuple[dict, pd.DataFrame]]) -> pd.DataFrame:
    """A subgroup forest plot's rows: per group its studies, then its pooled estimate.

    `pooled` maps a group (a TL type, or "all studies") to `(result, studies)`
    as `review.meta` gives them: `MetaResult.to_dict()` (pooled estimate and CI
    on the metric's scale, k) and `MetaResult.studies` (study_id, estimate,
    ci_low, ci_high, weight).
    """
    rows = []
    for group, (result, studies) in pooled.items():
        for _, st_ in studies.sort_values("estimate", kind="stable").iterrows():
            rows.append({"group": group, "kind": "study", "label": str(st_["study_id"]),
                         "estimate": float(st_["estimate"]), "ci_low": float(st_["ci_low"]),
                         "ci_high": float(st_["ci_high"]), "weight": float(st_.get("weight", np.nan)), "k": 1})
        pool = result.get("pooled") or {}
        rows.append({"group": group, "kind": "pooled", "label": f"pooled ({group}, k = {result.get('k')})",
                     "estimate": pool.get("estimate"), "ci_low": pool.get("ci_low"), "ci_high": pool.get("ci_high"),
                     "weight": np.nan, "k": result.get("k")})
    return pd.DataFrame(rows, columns=FOREST_COLUMNS)


def coefficients(result: dict) -> pd.DataFrame:
    """The meta-regression's coefficients (logit scale) from `review meta --json`, intercept first."""
    coefs = pd.DataFrame(result.get("coefficients") or [],
                         columns=["term", "estimate", "se", "ci_low", "ci_high", "p"])
    return coefs.reset_index(drop=True)
