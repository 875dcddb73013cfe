"""The one place trial rows become CSV (so a spreadsheet guard applies to every CSV export)."""
from __future__ import annotations

import json
from typing import IO, Any


def _cell(value: Any) -> Any:
    """Lists and mappings (confusion matrix) as JSON text, then the spreadsheet formula guard
    (review.spreadsheet.neutralise, OWASP CSV injection: a traceback or label starting with = + - @)."""
    from review.spreadsheet import neutralise

    if isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, sort_keys=True, default=str)
    return neutralise(value)


def write_csv(frame, stream: IO[str]) -> None:
    """Write a tidy trial frame (harness.results.schema.TRIAL_COLUMNS) as CSV to `stream`."""
    frame.map(_cell).to_csv(stream, index=False)
