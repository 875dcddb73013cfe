"""The transfer-effect summary: gap between pretrained and `none` against the seed spread."""
from __future__ import annotations

import pandas as pd
import pytest

from harness.results.transfer import transfer_effect


def _frame(pre: list[float], none: list[float], strategy: str = "feature_extractor") -> pd.DataFrame:
    rows = [{"backbone": "B", "strategy": strategy, "train_patients": 8, "weights": w, "seed": s, "status": "done",
             "auc_weighted": v} for w, vals in (("source:x", pre), ("none", none)) for s, v in enumerate(vals)]
    return pd.DataFrame(rows)


def test_gap_larger_than_every_seeds_spread_is_clear():
    out = transfer_effect(_frame([0.80, 0.84, 0.82], [0.50, 0.55, 0.52]))
    assert len(out) == 1
    r = out.iloc[0]
    assert r["mean"] == pytest.approx(0.82) and r["none_mean"] == pytest.approx(0.52333333)
    assert r["gap"] == pytest.approx(0.29666667)
    assert r["sd"] == pytest.approx(0.02)
    assert r["spread"] == pytest.approx(r["none_sd"]) and r["none_sd"] > r["sd"]   # the larger sd
    assert bool(r["clear"]) and bool(r["separated"])


def test_gap_within_the_seed_spread_is_not_clear():
    out = transfer_effect(_frame([0.60, 0.80], [0.55, 0.65]))
    r = out.iloc[0]
    assert r["gap"] == pytest.approx(0.10) and r["spread"] == pytest.approx(0.1414214)   # sd of 0.6, 0.8
    assert not bool(r["clear"]) and not bool(r["separated"])


def test_a_clear_gap_need_not_separate_every_seed():
    r = transfer_effect(_frame([0.70, 0.72, 0.74, 0.60], [0.55, 0.56, 0.57, 0.62])).iloc[0]
    assert r["gap"] > r["spread"] and bool(r["clear"])
    assert not bool(r["separated"])                      # 0.60 < 0.62


def test_needs_two_seeds_on_both_sides_and_ignores_failed_trials():
    assert transfer_effect(_frame([0.8], [0.5, 0.6])).empty
    frame = _frame([0.8, 0.82], [0.5, 0.6])
    frame.loc[frame.index[-1], "status"] = "failed"
    assert transfer_effect(frame).empty
    assert transfer_effect(frame.iloc[:0]).empty
