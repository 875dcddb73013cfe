"""Where the dashboard reads its inputs from.

Every path comes from an environment variable (so tests and the screenshot
script can point the app at temporary files) with a default inside the
checkout (results: runs/ under the working directory, where `harness sweep`
writes); the sidebar can override each one for the current session.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"

#: environment variable -> Paths attribute
ENV_VARS: dict[str, str] = {
    "TLMI_STUDIES_CSV": "studies",
    "TLMI_RESULTS": "results",
    "TLMI_TABLE2_CSV": "table2",
    "TLMI_PRISMA": "prisma",
}


def default_results_path() -> Path:
    """`runs/` under the working directory: `harness sweep` writes runs/<sweep name>/results.sqlite there."""
    return Path.cwd() / "runs"


def default_prisma_path() -> Path:
    """The review's counts file: data/prisma.csv (PRISMA2020 template format)."""
    return DATA_DIR / "prisma.csv"


@dataclass(frozen=True)
class Paths:
    """The four inputs of the dashboard; each page reads only what it needs."""

    studies: Path
    results: Path
    table2: Path
    prisma: Path

    @classmethod
    def defaults(cls) -> Paths:
        return cls(studies=DATA_DIR / "studies.csv", results=default_results_path(),
                   table2=DATA_DIR / "ho_kim_2021_table2.csv", prisma=default_prisma_path())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Paths:
        """Defaults overridden by any TLMI_* variable that is set and non-empty."""
        environ = os.environ if environ is None else environ
        values = {f.name: getattr(cls.defaults(), f.name) for f in fields(cls)}
        for var, attr in ENV_VARS.items():
            if environ.get(var, "").strip():
                values[attr] = Path(environ[var].strip()).expanduser()
        return cls(**values)

    def replace(self, **overrides: str | Path | None) -> Paths:
        """A copy with the given non-empty overrides (sidebar entries)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in overrides.items():
            if name not in values:
                raise KeyError(f"unknown dashboard path {name!r}; known: {', '.join(values)}")
            if value is not None and str(value).strip():
                values[name] = Path(str(value).strip()).expanduser()
        return Paths(**values)
