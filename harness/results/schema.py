"""The trial row: what the store keeps per trial (`TrialRow`, `COLUMNS`) and its tidy flattening
(`flatten`, `TRIAL_COLUMNS`) shared by `harness results` and the dashboard.

A stored row holds the trial's full configuration, metrics, timings and versions as JSON;
`flatten` turns one row into one tidy record (one column per variable) with these names:

- identity: trial_id, sweep, status, backbone, strategy, weights, weights_label, dataset,
  train_patients (patients the trial trained on), seed, input_size
- test metrics: accuracy, auc_macro, auc_weighted (Ho & Kim's "micro" AUC), soft_accuracy,
  f1_OAP, f1_IN, f1_OBS, auc_OAP, auc_IN, auc_OBS (one-vs-rest; empty when the class is absent
  from the test set), n_test, score_kind (what the AUCs ranked: softmax probabilities, SVM
  decision values, forest probabilities), confusion (3 x 3 list, rows = true class)
- selection: selected (JSON of the chosen candidate), selected_epochs
- cost: wall_time_s, train_images_per_s, test_images_per_s, peak_memory_mb, trainable_params,
  total_params, and per phase (cache_fill, head_training, fine_tuning, test)
  images_per_s_<phase> and share_of_reference_<phase>
- provenance: precision, backend, device, machine, versions, data_fingerprint, started_at,
  finished_at, error (failed trials: the traceback), config (the full trial configuration, JSON)

No Keras, TensorFlow or Streamlit here: the dashboard imports this module.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, Mapping

SCHEMA_VERSION = 1          # PRAGMA user_version of stores written by this harness (0: commit 6e81d96)
STATUSES = ("done", "failed")
JSON_COLUMNS = ("config", "metrics", "timings", "versions")
THROUGHPUT_PHASES = ("cache_fill", "head_training", "fine_tuning", "test")
METRIC_COLUMNS = ("accuracy", "auc_macro", "auc_weighted", "soft_accuracy", "f1_OAP", "f1_IN", "f1_OBS",
                  "auc_OAP", "auc_IN", "auc_OBS")
TRIAL_COLUMNS = [
    "trial_id", "sweep", "status", "backbone", "strategy", "weights", "weights_label", "dataset", "train_patients",
    "seed", "input_size", *METRIC_COLUMNS, "n_test", "score_kind", "confusion", "selected", "selected_epochs",
    "wall_time_s", "train_images_per_s", "test_images_per_s", "peak_memory_mb", "trainable_params", "total_params",
    *[f"images_per_s_{p}" for p in THROUGHPUT_PHASES], *[f"share_of_reference_{p}" for p in THROUGHPUT_PHASES],
    "precision", "backend", "device", "machine", "versions", "data_fingerprint", "started_at", "finished_at",
    "error", "config",
]


class RowError(ValueError):
    """A trial row that does not fit the schema; names the trial and the field."""


@dataclass(frozen=True)
class TrialRow:
    """One stored trial. JSON columns hold mappings; `machine` is JSON text."""

    trial_id: str
    sweep: str
    status: str
    backbone: str | None = None
    strategy: str | None = None
    weights: str | None = None
    weights_label: str | None = None
    seed: int | None = None
    train_patients: int | None = None
    config: Mapping | None = None
    metrics: Mapping | None = None
    timings: Mapping | None = None
    versions: Mapping | None = None
    backend: str | None = None
    device: str | None = None
    machine: str | None = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def __post_init__(self) -> None:
        where = f"trial {self.trial_id!r}"
        if not isinstance(self.trial_id, str) or not self.trial_id:
            raise RowError(f"trial row: trial_id must be non-empty text, got {self.trial_id!r}")
        if not isinstance(self.sweep, str) or not self.sweep:
            raise RowError(f"{where}: sweep must be non-empty text, got {self.sweep!r}")
        if self.status not in STATUSES:
            raise RowError(f"{where}: status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.config is None:
            raise RowError(f"{where}: every trial row carries its config")
        for name in JSON_COLUMNS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise RowError(f"{where}: {name} must be a mapping, got {type(value).__name__}")

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> "TrialRow":
        """Keep the store's columns of `row` (extra keys such as test probabilities are dropped)."""
        if not isinstance(row, Mapping):
            raise RowError(f"trial row must be a mapping, got {type(row).__name__}")
        values = {f.name: row.get(f.name) for f in fields(cls)}
        for name in JSON_COLUMNS:                     # rows read back from SQLite hold JSON text
            if isinstance(values[name], str):
                values[name] = _json(values[name], name, row.get("trial_id"))
        if values["machine"] is not None and not isinstance(values["machine"], str):
            values["machine"] = json.dumps(values["machine"], sort_keys=True, default=str)
        return cls(**values)

    def to_record(self) -> dict[str, Any]:
        """Column -> SQLite value (JSON columns serialised, keys sorted)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in JSON_COLUMNS and value is not None:
                value = json.dumps(value, sort_keys=True, default=str)
            out[f.name] = value
        return out


COLUMNS = [f.name for f in fields(TrialRow)]
CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS trials (
    trial_id   TEXT PRIMARY KEY,
    sweep      TEXT NOT NULL,
    status     TEXT NOT NULL,          -- {' | '.join(STATUSES)}
    backbone   TEXT, strategy TEXT, weights TEXT, weights_label TEXT,
    seed       INTEGER, train_patients INTEGER,
    config     TEXT NOT NULL,          -- full trial configuration (JSON)
    metrics    TEXT,                   -- test metrics, selection, parameters (JSON)
    timings    TEXT,                   -- seconds per phase, images/s, peak memory (JSON)
    versions   TEXT,                   -- python and library versions (JSON)
    backend    TEXT, device TEXT, machine TEXT,
    error      TEXT,
    started_at REAL, finished_at REAL
)"""


def _json(text: str, column: str, trial: Any) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError(f"trial {trial!r}, column {column!r}: not valid JSON ({exc.msg} at char {exc.pos})") from None


def _mapping(row: Mapping, key: str) -> Mapping:
    value = row.get(key)
    if value is None:
        return {}
    if isinstance(value, str):
        value = _json(value, key, row.get("trial_id"))
    if not isinstance(value, Mapping):
        raise RowError(f"trial {row.get('trial_id')!r}, column {key!r}: expected a JSON object, "
                       f"got {type(value).__name__}")
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def error_summary(error: str | None) -> str | None:
    """The last line of a stored traceback: the exception and its message."""
    if not error:
        return error
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def flatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """One stored trial (as `ResultStore.rows()` gives it, or raw JSON text) -> one tidy record."""
    if not isinstance(row, Mapping):
        raise RowError(f"trial row must be a mapping, got {type(row).__name__}")
    metrics, timings, config = _mapping(row, "metrics"), _mapping(row, "timings"), _mapping(row, "config")
    test = metrics.get("test") or {}
    selection = metrics.get("selection") or {}
    params = metrics.get("params") or {}
    data = config.get("data") or {}
    out: dict[str, Any] = {
        "trial_id": row.get("trial_id"), "sweep": row.get("sweep"), "status": row.get("status") or "done",
        "backbone": _first(row.get("backbone"), config.get("backbone")),
        "strategy": _first(row.get("strategy"), config.get("strategy")),
        "weights": _first(row.get("weights"), config.get("weights")), "weights_label": row.get("weights_label"),
        "dataset": _first(metrics.get("dataset"), data.get("spec")),
        "train_patients": _first(row.get("train_patients"), metrics.get("n_train_patients"),
                                 config.get("train_patients")),
        "seed": _first(row.get("seed"), config.get("seed")),
        "input_size": _first(metrics.get("input_size"), config.get("input_size")),
        **{k: test.get(k) for k in METRIC_COLUMNS},
        "n_test": test.get("n_test"), "score_kind": test.get("score_kind"), "confusion": test.get("confusion_matrix"),
        "selected": json.dumps(selection.get("candidate"), sort_keys=True, default=str) if selection else None,
        "selected_epochs": selection.get("epochs"),
        "wall_time_s": timings.get("total_s"), "train_images_per_s": timings.get("train_images_per_s"),
        "test_images_per_s": timings.get("test_images_per_s"), "peak_memory_mb": timings.get("peak_rss_mb"),
        "trainable_params": params.get("trainable_params"), "total_params": params.get("total_params"),
    }
    throughput = timings.get("throughput") or {}
    for phase in THROUGHPUT_PHASES:
        entry = throughput.get(phase) or {}
        out[f"images_per_s_{phase}"] = entry.get("images_per_s")
        out[f"share_of_reference_{phase}"] = entry.get("share_of_reference")
    out.update({"precision": metrics.get("precision"), "backend": row.get("backend"), "device": row.get("device"),
                "machine": _text(row.get("machine")), "versions": _text(row.get("versions")),
                "data_fingerprint": metrics.get("data_fingerprint"), "started_at": row.get("started_at"),
                "finished_at": row.get("finished_at"), "error": row.get("error"),
                "config": _text(config) if config else None})
    return {column: out[column] for column in TRIAL_COLUMNS}


def frame(rows: list[Mapping[str, Any]]):
    """Tidy DataFrame of flattened rows, columns in TRIAL_COLUMNS order."""
    import pandas as pd

    return pd.DataFrame([flatten(r) for r in rows], columns=TRIAL_COLUMNS)
