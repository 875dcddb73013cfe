"""Trial results: the row schema and its tidy flattening (`schema`), the SQLite store (`store`),
CSV export (`export`). Imports neither Keras nor TensorFlow, so the dashboard can use it."""
from .schema import COLUMNS, JSON_COLUMNS, SCHEMA_VERSION, TRIAL_COLUMNS, RowError, TrialRow, error_summary, flatten
from .store import ResultStore, StoreError, TrialAlreadyDone

__all__ = ["COLUMNS", "JSON_COLUMNS", "SCHEMA_VERSION", "TRIAL_COLUMNS", "ResultStore", "RowError", "StoreError",
           "TrialAlreadyDone", "TrialRow", "error_summary", "flatten"]
