"""Inter-coder agreement of the two coding passes, and the merged (resolved) rows.

Input: a coding folder with `pass_a/*.json`, `pass_b/*.json` and
`resolved/*.json`, one file per study per pass, in the format of
`data/coding/MANUAL.md`.

Agreement is computed on the studies coded in both passes:

- `included`: Cohen's kappa over all studies in both passes;
- categorical fields (those with a codebook vocabulary): Cohen's kappa over
  the studies both passes include, with "not stated" (null) as a category of
  its own, since agreeing that a paper does not state something is agreement;
- numeric fields: share of exact matches among studies where at least one
  pass gave a value; two values match when both are given and differ by at
  most `NUMERIC_TOLERANCE` (fractions: 0.0005, i.e. rounding of a percentage
  to one decimal; counts: 0, i.e. equal);
- multi-valued text (`backbone_models`): share of identical sets of names
  (case-insensitive) among studies where at least one pass gave a value.

Merging (`merge_resolved`): a study's row comes from `resolved/<n>.json`
when it exists; otherwise from `pass_a` when both passes agree on `included`
and on every field's value (same tolerance as above); otherwise the study is
left out and listed in `df.attrs["skipped"]` (disagreement not yet resolved).
Only studies coded `included: true` become rows.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from review.codebook import Codebook, load_codebook
from review.store import _typed, format_cell, join_multi, split_multi, validate_frame

DEFAULT_CODING = Path(__file__).resolve().parents[1] / "data" / "coding"
CODED_FIELDS = ("backbone_models", "backbone_category", "backbone_family", "tl_type", "fine_tuning_ratio",
                "accuracy", "auc", "sensitivity", "specificity", "modality", "subject",
                "n_images", "n_patients", "n_classes")
BIBLIO = ("study_id", "ref_number", "authors", "year", "title", "journal", "doi")


class CodingError(ValueError):
    """A coding file is unreadable or malformed."""


@dataclass
class AgreementReport:
    """Agreement of pass a and pass b; `to_dict` is the JSON of `review agreement`."""

    coding: str
    n_pass_a: int
    n_pass_b: int
    n_both: int
    n_both_included: int
    included: dict[str, Any]
    categorical: list[dict[str, Any]] = field(default_factory=list)
    numeric: list[dict[str, Any]] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tolerance(name: str, cb: Codebook) -> float:
    """Largest difference still counted as the same value."""
    return 0.0005 if cb[name].type == "float" else 0.0


# ---------------------------------------------------------------- reading
def read_pass(folder: str | Path) -> dict[int, dict[str, Any]]:
    """Study files of one pass keyed by ref_number ({} when the folder is absent)."""
    folder = Path(folder)
    out: dict[int, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CodingError(f"{path}: not readable JSON ({exc}); fix or remove the file") from None
        if not isinstance(data, dict) or not isinstance(data.get("fields", {}), dict):
            raise CodingError(f"{path}: expected an object with a 'fields' object (see data/coding/MANUAL.md)")
        ref = data.get("ref_number", path.stem)
        try:
            ref = int(ref)
        except (TypeError, ValueError):
            raise CodingError(f"{path}: ref_number {ref!r} is not an integer") from None
        if ref in out:
            raise CodingError(f"{path}: a second file for ref_number {ref} in {folder}; keep one")
        data["_file"] = str(path)
        out[ref] = data
    return out


def value(study: dict[str, Any], name: str) -> Any:
    """A field's coded value (None when null or absent)."""
    cell = study.get("fields", {}).get(name)
    v = cell.get("value") if isinstance(cell, dict) else cell
    if v is None or isinstance(v, str) and not v.strip():
        return None
    return v


def _number(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def same(name: str, a: Any, b: Any, cb: Codebook) -> bool:
    """Do two passes' values agree (tolerance for numbers, sets for multi-valued text)?"""
    if a is None or b is None:
        return a is None and b is None
    f = cb[name]
    if f.type in ("int", "float"):
        x, y = _number(a), _number(b)
        return x is not None and y is not None and abs(x - y) <= tolerance(name, cb) + 1e-12
    if f.multi:
        return {s.casefold() for s in split_multi(a)} == {s.casefold() for s in split_multi(b)}
    return str(a).strip() == str(b).strip()


# ---------------------------------------------------------------- agreement
def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa (sklearn); None when undefined (one category only, or no pairs)."""
    if not a:
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = cohen_kappa_score(a, b)
    return None if k is None or not math.isfinite(k) else float(k)


def agreement(coding_dir: str | Path = DEFAULT_CODING, codebook: Codebook | None = None) -> AgreementReport:
    """Kappa per categorical field, exact-match shares for numbers and model lists."""
    cb = codebook or load_codebook()
    a, b = read_pass(Path(coding_dir) / "pass_a"), read_pass(Path(coding_dir) / "pass_b")
    both = sorted(set(a) & set(b))
    inc_a = [str(bool(a[r].get("included"))) for r in both]
    inc_b = [str(bool(b[r].get("included"))) for r in both]
    included = {"kappa": cohen_kappa(inc_a, inc_b), "agreement": _share(inc_a, inc_b), "n": len(both),
                "n_included_a": inc_a.count("True"), "n_included_b": inc_b.count("True")}
    kept = [r for r in both if a[r].get("included") and b[r].get("included")]
    report = AgreementReport(str(coding_dir), len(a), len(b), len(both), len(kept), included)
    for name in CODED_FIELDS:
        f = cb[name]
        va, vb = [value(a[r], name) for r in kept], [value(b[r], name) for r in kept]
        if f.vocabulary:
            la, lb = [_label(v) for v in va], [_label(v) for v in vb]
            report.categorical.append({"field": name, "kappa": cohen_kappa(la, lb), "agreement": _share(la, lb),
                                       "n": len(kept), "n_both_stated": sum(x is not None and y is not None
                                                                           for x, y in zip(va, vb))})
        else:
            pairs = [(x, y) for x, y in zip(va, vb) if x is not None or y is not None]
            n_match = sum(same(name, x, y, cb) for x, y in pairs)
            item = {"field": name, "n_either": len(pairs),
                    "n_both": sum(x is not None and y is not None for x, y in pairs), "n_match": n_match,
                    "exact_share": n_match / len(pairs) if pairs else None}
            if f.type in ("int", "float"):
                report.numeric.append({**item, "tolerance": tolerance(name, cb)})
            else:
                report.sets.append(item)
    return report


def _label(v: Any) -> str:
    return "(not stated)" if v is None else str(v).strip()


def _share(a: list[str], b: list[str]) -> float | None:
    return sum(x == y for x, y in zip(a, b)) / len(a) if a else None


# ---------------------------------------------------------------- merging
def merge_resolved(coding_dir: str | Path = DEFAULT_CODING, codebook: Codebook | None = None,
                   studies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Codebook rows (typed like `load_studies`) from resolved files, else agreeing passes.

    `studies` (e.g. `load_studies()`): take each row's study_id from the study
    with the same ref_number, so ids stay stable; ids still colliding get
    a, b, ... suffixes in ref_number order.
    `df.attrs["skipped"]`: [{"ref_number", "reason"}] for studies left out;
    `df.attrs["problems"]`: validation problems of the merged rows (as dicts).
    """
    cb = codebook or load_codebook()
    coding_dir = Path(coding_dir)
    a, b = read_pass(coding_dir / "pass_a"), read_pass(coding_dir / "pass_b")
    resolved = read_pass(coding_dir / "resolved")
    rows, skipped = [], []
    for ref in sorted(set(resolved) | set(a) | set(b)):
        study, origin = _choose(ref, a, b, resolved, cb)
        if study is None:
            skipped.append({"ref_number": ref, "reason": origin})
        elif not study.get("included"):
            skipped.append({"ref_number": ref, "reason": f"excluded ({origin}): {study.get('inclusion_note', '')}"})
        elif not study.get("source_url"):
            skipped.append({"ref_number": ref, "reason": f"no source_url in {study['_file']}"})
        else:
            rows.append(_row(study, origin, cb))
    _stable_ids(rows, studies)
    text = pd.DataFrame(rows, columns=cb.columns, dtype="str")
    problems = validate_frame(text, cb)
    df = _typed(text, cb)
    df.attrs["skipped"] = skipped
    df.attrs["problems"] = [p.to_dict() for p in problems]
    return df


def _choose(ref: int, a: dict, b: dict, resolved: dict, cb: Codebook) -> tuple[dict | None, str]:
    if ref in resolved:
        return resolved[ref], "resolved"
    if ref not in a or ref not in b:
        return None, f"coded in pass {'a' if ref in a else 'b'} only; needs the other pass or a resolved file"
    diff = [n for n in CODED_FIELDS if not same(n, value(a[ref], n), value(b[ref], n), cb)]
    if bool(a[ref].get("included")) != bool(b[ref].get("included")):
        diff.insert(0, "included")
    if diff:
        return None, f"passes disagree on {', '.join(diff)}; needs resolved/{ref:03d}.json"
    return a[ref], "pass a (both passes agree)"


def _row(study: dict[str, Any], origin: str, cb: Codebook) -> dict[str, str]:
    row = {c: "" for c in cb.columns}
    for name in BIBLIO:
        row[name] = format_cell(study.get(name))
    quotes, n_values, n_quoted = [], 0, 0
    for name in CODED_FIELDS:
        v = value(study, name)
        if v is None:
            continue
        n_values += 1
        row[name] = join_multi(v, cb.list_separator) if isinstance(v, list) else format_cell(v)
        entry = study["fields"][name] if isinstance(study["fields"][name], dict) else {}
        quote = entry.get("quote")
        if quote:
            n_quoted += 1
            url = entry.get("url")
            where = f" [{url}]" if url and url != study.get("source_url") else ""
            quotes.append(f"{name}: {' '.join(str(quote).split())}{where}")
    row["source_url"] = format_cell(study.get("source_url"))
    row["evidence"] = " | ".join(quotes) or f"no codable values stated in the source ({origin})"
    coder = study.get("coder") or ""
    row["coded_by"] = f"{origin}: {coder}" if coder else origin
    row["coded_on"] = format_cell(study.get("coded_on"))
    row["confidence"] = "low" if n_values == 0 else "high" if n_quoted == n_values else "medium"
    row["notes"] = " ".join(str(study.get("note") or "").split())
    return row


def _stable_ids(rows: list[dict[str, str]], studies: pd.DataFrame | None) -> None:
    known = {}
    if studies is not None and len(studies):
        known = {str(int(r)): str(s) for r, s in zip(studies["ref_number"], studies["study_id"]) if pd.notna(r)}
    for row in rows:
        row["study_id"] = known.get(row["ref_number"], row["study_id"])
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["ref_number"] not in known:
            groups.setdefault(row["study_id"], []).append(row)
    taken = set(known.values())
    for sid, members in groups.items():
        if len(members) == 1 and sid not in taken:
            continue
        letters = (c for c in "abcdefghijklmnopqrstuvwxyz" if sid + c not in taken)
        for row in members:
            row["study_id"] = sid + next(letters)
            taken.add(row["study_id"])
