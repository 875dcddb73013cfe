"""One error type for bad input, so the CLI can print it without a traceback."""
from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad or inconsistent input data; the message names the file (and row/field) and the fix."""

    def __init__(self, path: str | Path | None, problem: str, hint: str | None = None):
        self.path = None if path is None else str(path)
        self.problem = problem
        self.hint = hint
        where = f"{self.path}: " if self.path else ""
        tail = f" ({hint})" if hint else ""
        super().__init__(f"{where}{problem}{tail}")
