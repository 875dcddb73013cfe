"""Spreadsheet safety: the one formula-injection guard for every CSV and XLSX the project writes.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and,
in some programs, a tab or carriage return) as a formula: a study title such
as ``=HYPERLINK("http://evil", "click")`` in a shared CSV would run on the
reviewer's machine. OWASP's "CSV Injection" advice is to prefix such cells
with a single quote, which spreadsheets show as text. `neutralise` does that:

* numbers (int, float, and text that is a plain decimal number such as
  ``-0.5`` or ``+3``) are left alone, so numeric cells stay numbers;
* any other text starting with one of ``= + - @ \\t \\r`` gets a leading ``'``;
* text that already starts with ``'`` gets one more, so `restore` can undo
  the guard exactly: ``restore(neutralise(x)) == x`` for every x.

Used by `review export` (CSV, XLSX), `review import-xlsx` (restore) and
`harness results --csv`.
"""
from __future__ import annotations

import re
from typing import Any

TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def is_plain_number(text: str) -> bool:
    """True for decimal numbers a spreadsheet reads as a value, not a formula (``-0.5``, ``+3``, ``1e-4``)."""
    return bool(_PLAIN_NUMBER.match(text))


def neutralise(value: Any) -> Any:
    """`value` made safe for a spreadsheet cell (non-text values are returned unchanged)."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(QUOTE) or (value.startswith(TRIGGERS) and not is_plain_number(value)):
        return QUOTE + value
    return value


def restore(value: Any) -> Any:
    """Undo `neutralise`: drop the guard's leading quote (non-text values unchanged)."""
    if isinstance(value, str) and value.startswith(QUOTE) and value[1:].startswith((QUOTE, *TRIGGERS)):
        return value[1:]
    return value


def neutralise_row(row: dict[str, Any]) -> dict[str, Any]:
    """Every cell of a row through `neutralise`."""
    return {key: neutralise(value) for key, value in row.items()}


__all__ = ["QUOTE", "TRIGGERS", "is_plain_number", "neutralise", "neutralise_row", "restore"]
