"""`ConfigError`: every problem of a sweep config, each naming the file, the key path and what is allowed."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Issue:
    """One bad key or value: `key` is a path such as `training.epochs` or `grid[0].backbone[1]`."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(ValueError):
    """A sweep config that cannot run, reported before anything trains.

    `str(error)` has one line per issue, each `FILE: KEY: what is wrong (and what is allowed)`.
    """

    def __init__(self, path: str | Path, issues: Sequence[Issue] | str, key: str = "(file)"):
        self.path = str(path)
        self.issues = [Issue(key, issues)] if isinstance(issues, str) else list(issues)
        super().__init__("\n".join(f"{self.path}: {issue}" for issue in self.issues))


def key_path(loc: Iterable[str | int]) -> str:
    """('grid', 0, 'backbone', 1) -> 'grid[0].backbone[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def suggest(word: str, allowed: Iterable[str]) -> str:
    """' Did you mean 'epochs'?' for a near miss, else ''."""
    by_lower = {str(a).lower(): a for a in allowed}
    close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else ""


def unknown_key(word: str, allowed: Iterable[str], what: str = "key") -> str:
    allowed = sorted(allowed)
    return f"unknown {what} {word!r}.{suggest(word, allowed)} Allowed: {', '.join(allowed)}."
