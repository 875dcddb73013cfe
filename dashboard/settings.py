"""Where the dashboard reads its inputs from, and what a browser may do with them.

Every path is server configuration: it comes from an environment variable
(set by the `dashboard` options, so tests and the screenshot script can point
the app at temporary files) with a default inside the checkout (results:
runs/ under the working directory, where `harness sweep` writes). The browser
shows the paths read-only; `Access` says whether it may change them (only to
files under the data roots) and whether it may add studies.
"""
from __future__ import annotations

import ipaddress
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


# ---------------------------------------------------------------- access policy
#: server options the `dashboard` launcher exports; the app reads them, a browser cannot change them
ALLOW_WRITES_VAR = "TLMI_ALLOW_WRITES"
ALLOW_PATH_EDIT_VAR = "TLMI_ALLOW_PATH_EDIT"
DATA_ROOTS_VAR = "TLMI_DATA_ROOTS"
_TRUE = {"1", "true", "yes", "on"}


class PathRefused(ValueError):
    """A path typed in the browser that the server will not open; the message says why and what is allowed."""


def is_loopback(address: str | None) -> bool:
    """True when only this machine can reach `address` (127.0.0.0/8, ::1, localhost).

    Streamlit binds every interface when its address is empty, so empty is not loopback.
    """
    text = (address or "").strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def default_roots(paths: Paths) -> tuple[Path, ...]:
    """The folders holding the configured inputs (a results folder is its own root), resolved, without repeats."""
    roots = []
    for path in (paths.studies, paths.results, paths.table2, paths.prisma):
        folder = path if path.is_dir() or not path.suffix else path.parent
        roots.append(folder.expanduser().resolve())
    return tuple(dict.fromkeys(roots))


def check_path(value: str | Path, roots: tuple[Path, ...], base: Path | None = None) -> Path:
    """The resolved path of `value` when it lies under one of `roots`; PathRefused otherwise.

    `..` is refused outright; relative paths start at `base` (default: the
    server's working directory); symbolic links are followed before the check,
    so a link inside a root that points outside it is refused too.
    """
    text = str(value).strip()
    if "\x00" in text:
        raise PathRefused(f"{text!r}: a path cannot contain a NUL character")
    raw = Path(text).expanduser()
    if ".." in raw.parts:
        raise PathRefused(f"{text}: '..' is not allowed; give the path from a data root "
                          f"({', '.join(map(str, roots))})")
    if not raw.is_absolute():
        raw = (base or Path.cwd()) / raw
    resolved = raw.resolve()
    for root in roots:
        real_root = Path(root).expanduser().resolve()
        if resolved == real_root or resolved.is_relative_to(real_root):
            return resolved
    where = ", ".join(map(str, roots)) or "none configured"
    link = f" (it resolves to {resolved})" if resolved != raw else ""
    raise PathRefused(f"{text}: outside the data roots{link}. This server only opens files under: {where} "
                      "(set with `dashboard --data-root DIR`).")


@dataclass(frozen=True)
class Access:
    """What a browser may do: add studies (`writes`), change the data paths (`allow_path_edit`, under `data_roots`).

    Writes are on when the server only listens on this machine, or when the
    operator asked for them on a network address (`dashboard --allow-writes`).
    """

    address: str | None
    allow_writes: bool = False
    allow_path_edit: bool = False
    data_roots: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, address: str | None, environ: Mapping[str, str] | None = None,
                 paths: Paths | None = None) -> Access:
        """The policy for a server bound to `address` (Streamlit's server.address) with these TLMI_* options."""
        environ = os.environ if environ is None else environ
        roots_text = environ.get(DATA_ROOTS_VAR, "").strip()
        if roots_text:
            roots = tuple(Path(r).expanduser().resolve() for r in roots_text.split(os.pathsep) if r.strip())
        else:
            roots = default_roots(paths or Paths.from_env(environ))
        return cls(address=address, data_roots=roots,
                   allow_writes=environ.get(ALLOW_WRITES_VAR, "").strip().lower() in _TRUE,
                   allow_path_edit=environ.get(ALLOW_PATH_EDIT_VAR, "").strip().lower() in _TRUE)

    @property
    def local(self) -> bool:
        return is_loopback(self.address)

    @property
    def writes(self) -> bool:
        return self.local or self.allow_writes

    def served_on(self) -> str:
        """Where the server listens, in words."""
        if self.local:
            return f"{self.address} (this machine only)"
        return f"{self.address} (reachable from the network)" if self.address else \
            "every network interface (no server.address set)"
