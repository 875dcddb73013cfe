"""The numbers Kim et al. 2022 publish about their studies (``data/published.yaml``).

Each number carries its place in the paper and a verbatim quote, plus a
``recompute`` rule that `review.audit` uses to recompute it from the studies
CSV. Loading validates the file so that a typo fails with the entry named,
not later inside the audit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PUBLISHED = Path(__file__).resolve().parents[1] / "data" / "published.yaml"
RECOMPUTE_KINDS = ("rows", "count", "spearman", "spearman_subset", "spearman_excluded",
                   "spearman_both_metrics")


class PublishedError(ValueError):
    """published.yaml is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class PublishedNumber:
    """One published number with its provenance and how to recompute it."""

    key: str
    label: str
    value: float
    where: str
    quote: str
    recompute: dict[str, Any] | None = None
    prisma: str | None = None
    also_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class Published:
    """All published numbers plus Table 1 and the citation they come from."""

    source: dict[str, Any]
    numbers: tuple[PublishedNumber, ...]
    table1: tuple[dict[str, Any], ...] = ()
    table1_where: str = ""
    path: str = ""
    by_key: dict[str, PublishedNumber] = field(default_factory=dict, compare=False)

    def __getitem__(self, key: str) -> PublishedNumber:
        return self.by_key[key]

    def value(self, key: str) -> float:
        return self.by_key[key].value

    def prisma_counts(self) -> dict[str, float]:
        """The published PRISMA flow as {PRISMA2020 name: n}."""
        return {n.prisma: n.value for n in self.numbers if n.prisma}

    def frame(self):
        """Tidy table (one row per number) for the dashboard."""
        import pandas as pd

        return pd.DataFrame([{"key": n.key, "label": n.label, "value": n.value, "where": n.where,
                              "quote": n.quote} for n in self.numbers])


def _number(entry: Any, i: int, path: Path) -> PublishedNumber:
    where = f"{path}, numbers[{i}]"
    if not isinstance(entry, dict):
        raise PublishedError(f"{where}: expected a mapping with key, label, value, where, quote")
    missing = [k for k in ("key", "label", "value", "where", "quote") if entry.get(k) in (None, "")]
    if missing:
        raise PublishedError(f"{where} ({entry.get('key', '?')}): missing {', '.join(missing)}")
    value = entry["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PublishedError(f"{where} ({entry['key']}): value {value!r} is not a number")
    rule = entry.get("recompute")
    if rule is not None and (not isinstance(rule, dict) or rule.get("kind") not in RECOMPUTE_KINDS):
        raise PublishedError(f"{where} ({entry['key']}): recompute {rule!r} must be null or a "
                             f"mapping whose kind is one of {', '.join(RECOMPUTE_KINDS)}")
    return PublishedNumber(key=str(entry["key"]), label=str(entry["label"]), value=float(value),
                           where=str(entry["where"]), quote=str(entry["quote"]), recompute=rule,
                           prisma=entry.get("prisma"), also_in=tuple(entry.get("also_in") or ()))


def load_published(path: str | Path = DEFAULT_PUBLISHED) -> Published:
    """Read and check published.yaml."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise PublishedError(f"{path}: no such file; it ships with the project as data/published.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    numbers = tuple(_number(e, i, path) for i, e in enumerate(data.get("numbers") or []))
    keys = [n.key for n in numbers]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise PublishedError(f"{path}: duplicate key(s) {dupes}; each number needs its own key")
    table = data.get("table1") or {}
    return Published(source=data.get("source") or {}, numbers=numbers,
                     table1=tuple(table.get("rows") or ()), table1_where=table.get("where", ""),
                     path=str(path), by_key={n.key: n for n in numbers})
