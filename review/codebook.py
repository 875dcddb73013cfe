"""The codebook: the machine-readable contract for `data/studies.csv`.

`review/codebook.yaml` is the single source of truth; this module only reads
it, checks that it is itself well-formed, and renders it as Markdown
(`data/CODEBOOK.md`), so the CSV, its validator and its documentation can
never drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CODEBOOK = Path(__file__).resolve().with_name("codebook.yaml")
TYPES = ("str", "int", "float", "date", "url")


class CodebookError(ValueError):
    """The codebook file itself is malformed (not a problem of the data)."""


@dataclass(frozen=True)
class Field:
    """One CSV column: its type, constraints and meaning."""

    name: str
    type: str = "str"
    required: bool = False
    multi: bool = False
    vocabulary: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    description: str = ""

    def allowed(self) -> str:
        """What a valid cell looks like, in words (used in error messages)."""
        parts = [{"str": "text", "int": "an integer", "float": "a number",
                  "date": "a date YYYY-MM-DD", "url": "an http(s) URL"}[self.type]]
        if self.vocabulary:
            parts = ["one of: " + ", ".join(self.vocabulary)]
        if self.min is not None and self.max is not None:
            parts.append(f"between {_num(self.min)} and {_num(self.max)}")
        elif self.min is not None:
            parts.append(f">= {_num(self.min)}")
        elif self.max is not None:
            parts.append(f"<= {_num(self.max)}")
        if self.pattern:
            parts.append(f"matching {self.pattern}")
        text = " ".join(parts)
        return f"{text} (several joined by '; ')" if self.multi else text


@dataclass(frozen=True)
class Codebook:
    """Ordered fields plus cross-field rules, as read from the YAML."""

    fields: dict[str, Field]
    version: int = 1
    list_separator: str = "; "
    consistency: dict[str, Any] = field(default_factory=dict)
    conventions: list[str] = field(default_factory=list)
    source: Path | None = None

    @property
    def columns(self) -> list[str]:
        """CSV column order (the YAML's order)."""
        return list(self.fields)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.required]

    def vocabulary(self, name: str) -> list[str]:
        """Allowed values of a categorical field ([] for free fields)."""
        return list(self[name].vocabulary or ())

    def __getitem__(self, name: str) -> Field:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a codebook field; known fields: {', '.join(self.fields)}") from None

    def render_markdown(self) -> str:
        """Human-readable codebook (the text of data/CODEBOOK.md)."""
        return _render(self)


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Read and check a codebook YAML (default: the packaged `review/codebook.yaml`)."""
    path = Path(path) if path is not None else DEFAULT_CODEBOOK
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CodebookError(f"{path}: codebook file not found") from None
    except yaml.YAMLError as exc:
        raise CodebookError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
        raise CodebookError(f"{path}: expected a mapping with a 'fields' mapping")
    fields = {name: _field(path, name, spec or {}) for name, spec in raw["fields"].items()}
    consistency = raw.get("consistency") or {}
    _check_consistency(path, fields, consistency)
    return Codebook(fields=fields, version=int(raw.get("version", 1)),
                    list_separator=str(raw.get("list_separator", "; ")),
                    consistency=consistency, conventions=[str(c) for c in raw.get("conventions") or []],
                    source=path)


def _field(path: Path, name: str, spec: dict) -> Field:
    known = {"type", "required", "multi", "vocabulary", "min", "max", "pattern", "description"}
    unknown = set(spec) - known
    if unknown:
        raise CodebookError(f"{path}: field {name!r} has unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
    ftype = spec.get("type", "str")
    if ftype not in TYPES:
        raise CodebookError(f"{path}: field {name!r} has type {ftype!r}; allowed: {', '.join(TYPES)}")
    vocab = spec.get("vocabulary")
    return Field(name=name, type=ftype, required=bool(spec.get("required", False)),
                 multi=bool(spec.get("multi", False)),
                 vocabulary=tuple(str(v) for v in vocab) if vocab else None,
                 min=spec.get("min"), max=spec.get("max"), pattern=spec.get("pattern"),
                 description=" ".join(str(spec.get("description", "")).split()))


def _check_consistency(path: Path, fields: dict[str, Field], consistency: dict) -> None:
    for rule, spec in consistency.items():
        for key in ("if_field", "then_field"):
            if spec.get(key) not in fields:
                raise CodebookError(f"{path}: consistency rule {rule!r}: {key} {spec.get(key)!r} is not a field")
        allowed = spec.get("allowed") or {}
        for when, values in allowed.items():
            for value, fname in [(when, spec["if_field"])] + [(v, spec["then_field"]) for v in values]:
                vocab = fields[fname].vocabulary
                if vocab and value not in vocab:
                    raise CodebookError(f"{path}: consistency rule {rule!r}: {value!r} is not in {fname}'s vocabulary")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _render(cb: Codebook) -> str:
    lines = [
        "# Codebook of `data/studies.csv`",
        "",
        "Generated from `review/codebook.yaml` by `review codebook --markdown`; edit the YAML, not this file.",
        "",
        f"Codebook version {cb.version}. One row per study included in Kim et al. 2022 "
        "(BMC Med Imaging 22:69). An empty cell means *not stated / not coded*. "
        f"Multi-valued fields join their values with `{cb.list_separator}` "
        "(semicolon + space), no empty items, no duplicates.",
        "",
        "| column | type | required | allowed values | meaning |",
        "|---|---|---|---|---|",
    ]
    for f in cb.fields.values():
        ftype = f.type + (" (multi)" if f.multi else "")
        lines.append(f"| `{f.name}` | {ftype} | {'yes' if f.required else ''} | "
                     f"{_md(_allowed_cell(f))} | {_md(f.description)} |")
    if cb.conventions:
        lines += ["", "## Conventions", ""] + [f"- {c}" for c in cb.conventions]
    if cb.consistency:
        lines += ["", "## Cross-field rules", ""]
        for name, spec in cb.consistency.items():
            lines.append(f"- **{name}**: {_md(' '.join(str(spec.get('description', '')).split()))}")
            for when, values in (spec.get("allowed") or {}).items():
                lines.append(f"  - `{spec['if_field']}` = `{when}` → `{spec['then_field']}` in "
                             + ", ".join(f"`{v}`" for v in values))
    return "\n".join(lines) + "\n"


def _allowed_cell(f: Field) -> str:
    if f.vocabulary:
        return ", ".join(f"`{v}`" for v in f.vocabulary)
    bits = []
    if f.min is not None:
        bits.append(f"≥ {_num(f.min)}")
    if f.max is not None:
        bits.append(f"≤ {_num(f.max)}")
    if f.pattern:
        bits.append(f"pattern `{f.pattern}`")
    return "; ".join(bits)


def _md(text: str) -> str:
    return text.replace("|", "\\|")
