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
    assert r["spread"] == pytest.approx(0.05)          # none's range 0.55 - 0.50 is the larger
    assert r["sd"] == pytest.approx(0.02) and bool(r["clear"])


def test_gap_within_the_seed_spread_is_not_clear():
    out = transfer_effect(_frame([0.60, 0.80], [0.55, 0.65]))
    r = out.iloc[0]
    assert r["gap"] == pytest.approx(0.10) and r["spread"] == pytest.approx(0.20)
    assert not bool(r["clear"])


def test_needs_two_seeds_on_both_sides_and_ignores_failed_trials():
    assert transfer_effect(_frame([0.8], [0.5, 0.6])).empty
    frame = _frame([0.8, 0.82], [0.5, 0.6])
    frame.loc[frame.index[-1], "status"] = "failed"
    assert transfer_effect(frame).empty
    assert transfer_effect(frame.iloc[:0]).empty
