"""The transfer effect in a results table: pretrained weights against `none`, beside the seed spread.

For every (backbone, strategy, train_patients) that has trials with pretrained weights and
with `weights: none`, each over two or more seeds: mean, standard deviation and range (max −
min) of a test metric per weights, the gap (pretrained mean − none mean) and the seed
spread (the larger of the two standard deviations). `clear`: the gap is larger than the
spread; `separated`: every pretrained seed is ahead of every `none` seed (the worst
pretrained seed above the best `none` seed), a stricter reading. One row per pretrained
weights.
"""
from __future__ import annotations

import pandas as pd

KEYS = ["backbone", "strategy", "train_patients"]


def _summary(values: pd.Series) -> dict:
    return {"n_seeds": int(values.count()), "mean": float(values.mean()), "sd": float(values.std(ddof=1)),
            "range": float(values.max() - values.min()), "min": float(values.min()), "max": float(values.max())}


def transfer_effect(frame: pd.DataFrame, metric: str = "auc_weighted") -> pd.DataFrame:
    """One row per (backbone, strategy, train_patients, pretrained weights) with a `none` contrast over >= 2 seeds."""
    columns = KEYS + ["weights", "n_seeds", "mean", "sd", "range", "none_n_seeds", "none_mean", "none_sd",
                      "none_range", "gap", "spread", "clear", "separated"]
    done = frame[(frame["status"] == "done") & frame[metric].notna()] if len(frame) else frame
    rows = []
    for key, group in (done.groupby(KEYS, dropna=False) if len(done) else []):
        none = group.loc[group["weights"] == "none", metric]
        if none.count() < 2:
            continue
        base = _summary(none)
        for weights, part in group[group["weights"] != "none"].groupby("weights"):
            mine = _summary(part[metric])
            if mine["n_seeds"] < 2:
                continue
            gap = mine["mean"] - base["mean"]
            spread = max(mine["sd"], base["sd"])
            rows.append({**dict(zip(KEYS, key)), "weights": weights, **mine,
                         **{f"none_{k}": v for k, v in base.items()}, "gap": gap, "spread": spread,
                         "clear": bool(gap > spread), "separated": bool(mine["min"] > base["max"])})
    return pd.DataFrame(rows, columns=columns + ["min", "max", "none_min", "none_max"])
