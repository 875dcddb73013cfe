"""Crash-safe results store: one SQLite row per finished trial (WAL mode).

A row is inserted in one transaction when its trial finishes, keyed by the trial id (the
hash of its configuration), so a killed sweep keeps every finished row and a resumed one
cannot insert a trial twice. Columns hold JSON: config, metrics, timings, versions.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    trial_id   TEXT PRIMARY KEY,
    sweep      TEXT NOT NULL,
    status     TEXT NOT NULL,          -- done | failed
    backbone   TEXT, strategy TEXT, weights TEXT, weights_label TEXT,
    seed       INTEGER, train_patients INTEGER,
    config     TEXT NOT NULL,          -- full trial configuration (JSON)
    metrics    TEXT,                   -- test metrics + selection (JSON)
    timings    TEXT,                   -- seconds per phase, images/s, peak memory (JSON)
    versions   TEXT,                   -- python and library versions (JSON)
    backend    TEXT, device TEXT, machine TEXT,
    error      TEXT,
    started_at REAL, finished_at REAL
);
"""
COLUMNS = ["trial_id", "sweep", "status", "backbone", "strategy", "weights", "weights_label", "seed",
           "train_patients", "config", "metrics", "timings", "versions", "backend", "device", "machine",
           "error", "started_at", "finished_at"]
JSON_COLUMNS = ("config", "metrics", "timings", "versions")


class ResultStore:
    """Small wrapper around one SQLite file; every method opens its own short connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA synchronous=FULL")
        return con

    def done_ids(self, sweep: str | None = None) -> set[str]:
        sql = "SELECT trial_id FROM trials WHERE status='done'" + (" AND sweep=?" if sweep else "")
        with self._connect() as con:
            return {r[0] for r in con.execute(sql, (sweep,) if sweep else ())}

    def record(self, row: dict) -> None:
        """Insert or replace a failed attempt; a 'done' row is never overwritten."""
        values = {c: row.get(c) for c in COLUMNS}
        for c in JSON_COLUMNS:
            if values[c] is not None and not isinstance(values[c], str):
                values[c] = json.dumps(values[c], sort_keys=True, default=str)
        values["finished_at"] = values["finished_at"] or time.time()
        with self._connect() as con:
            existing = con.execute("SELECT status FROM trials WHERE trial_id=?", (values["trial_id"],)).fetchone()
            if existing and existing[0] == "done":
                raise ValueError(f"trial {values['trial_id']} is already done in {self.path}; refusing to run it twice")
            con.execute(f"INSERT OR REPLACE INTO trials ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        [values[c] for c in COLUMNS])

    def rows(self, status: str | None = None) -> list[dict]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM trials" + (" WHERE status=?" if status else "") + " ORDER BY finished_at"
        with self._connect() as con:
            out = []
            for r in con.execute(sql, (status,) if status else ()):
                row = dict(zip(COLUMNS, r))
                for c in JSON_COLUMNS:
                    row[c] = json.loads(row[c]) if row[c] else None
                out.append(row)
        return out

    def frame(self) -> pd.DataFrame:
        """Tidy table: one row per trial, headline metrics and timings as columns."""
        records = []
        for row in self.rows():
            m, t = row["metrics"] or {}, row["timings"] or {}
            test = m.get("test", {})
            records.append({
                "trial_id": row["trial_id"], "sweep": row["sweep"], "status": row["status"],
                "backbone": row["backbone"], "strategy": row["strategy"], "weights": row["weights"],
                "weights_label": row["weights_label"], "seed": row["seed"], "train_patients": row["train_patients"],
                **{k: test.get(k) for k in ("f1_OAP", "f1_IN", "f1_OBS", "accuracy", "auc_macro", "auc_weighted",
                                            "soft_accuracy", "n_test")},
                "selected": json.dumps(m.get("selection", {}).get("candidate")),
                "selected_epochs": m.get("selection", {}).get("epochs"),
                "total_s": t.get("total_s"), "train_images_per_s": t.get("train_images_per_s"),
                "peak_rss_mb": t.get("peak_rss_mb"), "trainable_params": m.get("params", {}).get("trainable_params"),
                "total_params": m.get("params", {}).get("total_params"),
                "backend": row["backend"], "device": row["device"], "machine": row["machine"],
                "error": row["error"],
            })
        return pd.DataFrame.from_records(records)
