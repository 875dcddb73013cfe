"""Moved to `harness.results` (kept so existing imports keep working; import from harness.results)."""
from harness.results.schema import COLUMNS, JSON_COLUMNS  # noqa: F401
from harness.results.store import ResultStore, StoreError  # noqa: F401
