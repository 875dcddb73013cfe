"""The results store keeps every finished row and refuses to run a trial twice."""
from __future__ import annotations

import sqlite3

import pytest

from harness.store import ResultStore


def _row(tid: str, status: str = "done") -> dict:
    return {"trial_id": tid, "sweep": "s", "status": status, "backbone": "CBR-Tiny", "strategy": "full_finetune",
            "weights": "none", "weights_label": "none (random initialisation)", "seed": 0, "train_patients": 4,
            "config": {"a": 1}, "metrics": {"test": {"accuracy": 0.5}}, "timings": {"total_s": 1.0},
            "versions": {"keras": "x"}, "backend": "tensorflow", "device": "cpu", "machine": "{}"}


def test_store_is_wal_and_round_trips_json(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.record(_row("a"))
    with sqlite3.connect(tmp_path / "r.sqlite") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    (row,) = store.rows()
    assert row["config"] == {"a": 1} and row["metrics"]["test"]["accuracy"] == 0.5
    assert store.done_ids() == {"a"}
    frame = store.frame()
    assert list(frame["accuracy"]) == [0.5] and frame.loc[0, "weights_label"].startswith("none")


def test_done_trial_cannot_be_recorded_twice_but_failed_can_be_retried(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.record(_row("b", "failed"))
    store.record(_row("b", "done"))        # a retry replaces the failed attempt
    with pytest.raises(ValueError, match="already done"):
        store.record(_row("b", "done"))
    assert [r["status"] for r in store.rows()] == ["done"]
