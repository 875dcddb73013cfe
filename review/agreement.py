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

Later rounds (`round3/`, `round4/`, ... inside the coding folder, each with
`pass_a/`, `pass_b/`, `resolved/`) hold only the fields a round adds or
corrects, each as `{"value", "quote", "url"}` (a null value removes an
earlier one and says why in `reason`). They are applied in order on top of
rounds 1-2: per study, the round's resolved file, else pass a when both
passes of the round give the same values; a study coded by one pass only, or
whose passes disagree, is not applied (`df.attrs["rounds"]` says why).
Agreement of a later round compares, per field, the studies where at least
one of its passes has an entry; a pass without an entry keeps the value the
round started from (the rounds-1-2 resolved value), so "one pass found a
value, the other did not" counts as a disagreement. A study only one pass
has a file for is compared when the round's `routes.csv` has a row of the
other pass for it (that pass tried and coded nothing); otherwise it is
listed in `pass_a_only` / `pass_b_only` and not compared. `overall` compares the
two passes' final views (rounds 1-2 with every later round laid over).
"""
from __future__ import annotations

import copy
import csv
import json
import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from review.codebook import Codebook, load_codebook
from review.store import _typed, check_cell, format_cell, join_multi, split_multi, validate_frame

DEFAULT_CODING = Path(__file__).resolve().parents[1] / "data" / "coding"
CODED_FIELDS = ("backbone_models", "backbone_category", "backbone_family", "tl_type", "fine_tuning_ratio",
                "tl_stated", "accuracy", "auc", "sensitivity", "specificity", "metric_scope", "modality", "subject",
                "n_images", "n_patients", "n_classes", "n_test")
BIBLIO = ("study_id", "ref_number", "authors", "year", "title", "journal", "doi")
REVIEW_URL = "https://doi.org/10.1186/s12880-022-00793-7"  # Kim et al. 2022 itself
REVIEW_TAG = "(Kim et al. 2022)"
_ROUND_DIR = re.compile(r"^round(\d+)$")


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
    rounds: list[dict[str, Any]] = field(default_factory=list)
    overall: dict[str, Any] | None = None

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


# ---------------------------------------------------------------- later rounds
def round_folders(coding_dir: str | Path) -> list[tuple[int, Path]]:
    """(round number, folder) of every `roundN/` (N >= 3) in the coding folder, in order."""
    coding_dir = Path(coding_dir)
    found = []
    for sub in coding_dir.iterdir() if coding_dir.is_dir() else []:
        m = _ROUND_DIR.match(sub.name)
        if sub.is_dir() and m:
            n = int(m.group(1))
            if n < 3:
                raise CodingError(f"{sub}: rounds 1 and 2 live in pass_a/, pass_b/, resolved/; "
                                  f"name later rounds round3, round4, ...")
            found.append((n, sub))
    return sorted(found)


def read_round(folder: str | Path, codebook: Codebook | None = None) -> dict[int, dict[str, Any]]:
    """Files of one pass of a later round, each entry checked (see `check_round_entry`)."""
    cb = codebook or load_codebook()
    studies = read_pass(folder)
    for study in studies.values():
        for name, entry in study.get("fields", {}).items():
            problem = check_round_entry(name, entry, cb)
            if problem:
                raise CodingError(f"{study['_file']}: field {name!r}: {problem}")
    return studies


def check_round_entry(name: str, entry: Any, cb: Codebook) -> str | None:
    """Why a later-round field entry is unusable (None when it is fine).

    A value needs a verbatim `quote` and the `url` it was read at; a null value
    (an earlier value removed) needs a `reason`.
    """
    if name not in CODED_FIELDS:
        return f"not a coded field; use one of: {', '.join(CODED_FIELDS)}"
    if not isinstance(entry, dict) or "value" not in entry:
        return 'expected {"value": ..., "quote": "...", "url": "https://..."}'
    v = entry["value"]
    if v is None:
        return None if str(entry.get("reason") or "").strip() else \
            "a null value removes an earlier one; say why in \"reason\""
    text = join_multi(v, cb.list_separator) if isinstance(v, list) else format_cell(v)
    messages = check_cell(cb[name], text, cb.list_separator)
    if messages:
        return f"value {v!r}: {messages[0]}"
    if not str(entry.get("quote") or "").strip():
        return "a value needs the verbatim \"quote\" that states it"
    url = str(entry.get("url") or "")
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        return f"\"url\" {url!r} is not an http(s) address of the quoted source"
    return None


def overlay(study: dict[str, Any], later: dict[str, Any] | None, round_no: int = 3,
            origin: str = "") -> dict[str, Any]:
    """A copy of `study` with a later round's field entries laid over (null entries clear)."""
    out = copy.deepcopy(study)
    if not later:
        return out
    fields = out.setdefault("fields", {})
    for name, entry in later.get("fields", {}).items():
        fields[name] = {**entry, "round": round_no}
    out.setdefault("_rounds", []).append({"round": round_no, "origin": origin, "coder": later.get("coder"),
                                          "coded_on": later.get("coded_on"), "note": later.get("note")})
    return out


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
    """Kappa per categorical field, exact-match shares for numbers and model lists.

    The top level is rounds 1-2 (`pass_a/`, `pass_b/`); `rounds` has one entry
    per later round (only the fields it coded); `overall` compares the passes'
    final views when later rounds exist.
    """
    cb = codebook or load_codebook()
    coding_dir = Path(coding_dir)
    a, b = read_pass(coding_dir / "pass_a"), read_pass(coding_dir / "pass_b")
    base = _base_studies(coding_dir, a, b, cb)
    report = AgreementReport(str(coding_dir), **_pass_agreement(a, b, cb))
    view_a, view_b = a, b
    for n, folder in round_folders(coding_dir):
        ra, rb = read_round(folder / "pass_a", cb), read_round(folder / "pass_b", cb)
        report.rounds.append(_round_agreement(n, folder, ra, rb, base, cb))
        rres = read_round(folder / "resolved", cb)
        view_a = {r: overlay(s, ra.get(r), n) for r, s in view_a.items()}
        view_b = {r: overlay(s, rb.get(r), n) for r, s in view_b.items()}
        base = {r: overlay(s, choose_round(r, ra, rb, rres, s, cb)[0], n) for r, s in base.items()}
    if report.rounds:
        report.overall = {"description": "both passes' final values: rounds 1-2 with every later round laid over",
                          **_pass_agreement(view_a, view_b, cb)}
    return report


def _pass_agreement(a: dict[int, dict], b: dict[int, dict], cb: Codebook) -> dict[str, Any]:
    """Counts, `included` and per-field agreement of two complete passes."""
    both = sorted(set(a) & set(b))
    inc_a = [str(bool(a[r].get("included"))) for r in both]
    inc_b = [str(bool(b[r].get("included"))) for r in both]
    included = {"kappa": cohen_kappa(inc_a, inc_b), "agreement": _share(inc_a, inc_b), "n": len(both),
                "n_included_a": inc_a.count("True"), "n_included_b": inc_b.count("True")}
    kept = [r for r in both if a[r].get("included") and b[r].get("included")]
    pairs = {name: [(value(a[r], name), value(b[r], name)) for r in kept] for name in CODED_FIELDS}
    return {"n_pass_a": len(a), "n_pass_b": len(b), "n_both": len(both), "n_both_included": len(kept),
            "included": included, **_field_agreement(pairs, cb)}


def _round_agreement(n: int, folder: Path, ra: dict[int, dict], rb: dict[int, dict],
                     base: dict[int, dict], cb: Codebook) -> dict[str, Any]:
    """Agreement of one later round: per field, the studies where either pass has an entry.

    A study with a file in one pass only is compared too when the other pass
    has a row for it in the round's `routes.csv` (it tried and coded nothing, so
    it keeps the start value); without such a row it is listed, not compared.
    """
    tried = read_routes(folder)
    both = set(ra) & set(rb)
    one_pass = {r for r in (set(ra) ^ set(rb)) if r in (tried["b"] if r in ra else tried["a"])}
    compared = sorted(both | one_pass)
    pairs: dict[str, list[tuple[Any, Any]]] = {}
    for name in CODED_FIELDS:
        for r in compared:
            fa, fb = ra.get(r, {}).get("fields", {}), rb.get(r, {}).get("fields", {})
            if name in fa or name in fb:
                start = value(base[r], name) if r in base else None
                pairs.setdefault(name, []).append((value(ra[r], name) if name in fa else start,
                                                   value(rb[r], name) if name in fb else start))
    return {"round": n, "folder": str(folder), "n_pass_a": len(ra), "n_pass_b": len(rb), "n_both": len(both),
            "pass_a_only": sorted(set(ra) - set(rb)), "pass_b_only": sorted(set(rb) - set(ra)),
            "one_pass_compared": sorted(one_pass), **_field_agreement(pairs, cb)}


def read_routes(folder: str | Path) -> dict[str, set[int]]:
    """ref_numbers each pass has a row for in `folder/routes.csv` ({"a": set(), "b": set()} without the file)."""
    out: dict[str, set[int]] = {"a": set(), "b": set()}
    path = Path(folder) / "routes.csv"
    if not path.is_file():
        return out
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            side = (row.get("pass") or "").strip()
            try:
                ref = int(row.get("ref_number") or "")
            except ValueError:
                raise CodingError(f"{path}, line {line}: ref_number {row.get('ref_number')!r} is not an integer") \
                    from None
            if side in out:
                out[side].add(ref)
    return out


def _field_agreement(pairs: dict[str, list[tuple[Any, Any]]], cb: Codebook) -> dict[str, list[dict[str, Any]]]:
    """Kappa (categorical) or exact-match share (numbers, model lists) per field of (a, b) value pairs."""
    out: dict[str, list[dict[str, Any]]] = {"categorical": [], "numeric": [], "sets": []}
    for name in CODED_FIELDS:
        if name not in pairs:
            continue
        f = cb[name]
        va, vb = [x for x, _ in pairs[name]], [y for _, y in pairs[name]]
        if f.vocabulary:
            la, lb = [_label(v) for v in va], [_label(v) for v in vb]
            out["categorical"].append({"field": name, "kappa": cohen_kappa(la, lb), "agreement": _share(la, lb),
                                       "n": len(va), "n_both_stated": sum(x is not None and y is not None
                                                                          for x, y in zip(va, vb))})
            continue
        stated = [(x, y) for x, y in zip(va, vb) if x is not None or y is not None]
        n_match = sum(same(name, x, y, cb) for x, y in stated)
        item = {"field": name, "n_either": len(stated),
                "n_both": sum(x is not None and y is not None for x, y in stated), "n_match": n_match,
                "exact_share": n_match / len(stated) if stated else None}
        if f.type in ("int", "float"):
            out["numeric"].append({**item, "tolerance": tolerance(name, cb)})
        else:
            out["sets"].append(item)
    return out


def _label(v: Any) -> str:
    return "(not stated)" if v is None else str(v).strip()


def _share(a: list[str], b: list[str]) -> float | None:
    return sum(x == y for x, y in zip(a, b)) / len(a) if a else None


# ---------------------------------------------------------------- merging
def merge_resolved(coding_dir: str | Path = DEFAULT_CODING, codebook: Codebook | None = None,
                   studies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Codebook rows (typed like `load_studies`) from resolved files, else agreeing passes.

    Later rounds (`round3/`, ...) are laid over each study in order (see the
    module docstring).
    `studies` (e.g. `load_studies()`): take each row's study_id from the study
    with the same ref_number, so ids stay stable; ids still colliding get
    a, b, ... suffixes in ref_number order.
    `df.attrs["skipped"]`: [{"ref_number", "reason"}] for studies left out;
    `df.attrs["rounds"]`: [{"round", "ref_number", "applied", "origin", "fields", "cleared"}] for every
    study a later round coded (`applied` False: `origin` says what is missing);
    `df.attrs["problems"]`: validation problems of the merged rows (as dicts).
    """
    cb = codebook or load_codebook()
    coding_dir = Path(coding_dir)
    a, b = read_pass(coding_dir / "pass_a"), read_pass(coding_dir / "pass_b")
    resolved = read_pass(coding_dir / "resolved")
    chosen = {ref: _choose(ref, a, b, resolved, cb) for ref in sorted(set(resolved) | set(a) | set(b))}
    rounds_log: list[dict[str, Any]] = []
    for n, folder in round_folders(coding_dir):
        ra, rb = read_round(folder / "pass_a", cb), read_round(folder / "pass_b", cb)
        rres = read_round(folder / "resolved", cb)
        for ref in sorted(set(ra) | set(rb) | set(rres)):
            study, origin = chosen.get(ref, (None, "not in rounds 1-2"))
            if study is None:
                later, why = None, f"the study has no rounds-1-2 row ({origin})"
            else:
                later, why = choose_round(ref, ra, rb, rres, study, cb)
            entries = (later or {}).get("fields", {})
            rounds_log.append({"round": n, "ref_number": ref, "applied": later is not None, "origin": why,
                               "fields": sorted(entries),
                               "cleared": sorted(k for k, e in entries.items() if e.get("value") is None)})
            if later is not None:
                chosen[ref] = (overlay(study, later, n, why), origin)
    rows, skipped = [], []
    for ref, (study, origin) in chosen.items():
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
    problems = [p.to_dict() for p in validate_frame(text, cb)]
    problems += [{"row": i + 1, "column": "tl_stated", "value": row["tl_stated"],
                  "message": f"tl_type is {row['tl_type']!r}; tl_stated is only for studies without a TL type"}
                 for i, row in enumerate(rows) if row["tl_type"] and row["tl_stated"]]
    df = _typed(text, cb)
    df.attrs["skipped"] = skipped
    df.attrs["rounds"] = rounds_log
    df.attrs["problems"] = problems
    return df


def _base_studies(coding_dir: Path, a: dict, b: dict, cb: Codebook) -> dict[int, dict[str, Any]]:
    """The rounds-1-2 study each later round starts from (resolved, else agreeing passes)."""
    resolved = read_pass(coding_dir / "resolved")
    out = {}
    for ref in sorted(set(resolved) | set(a) | set(b)):
        study, _ = _choose(ref, a, b, resolved, cb)
        if study is not None:
            out[ref] = study
    return out


def choose_round(ref: int, ra: dict, rb: dict, resolved: dict, start: dict[str, Any],
                 cb: Codebook) -> tuple[dict | None, str]:
    """A later round's file to apply to `start` (None and why when there is none yet)."""
    if ref in resolved:
        return resolved[ref], "resolved"
    if ref not in ra or ref not in rb:
        return None, (f"coded in pass {'a' if ref in ra else 'b'} of the round only; "
                      f"needs the other pass or a resolved file")
    fa, fb = ra[ref].get("fields", {}), rb[ref].get("fields", {})
    diff = [n for n in CODED_FIELDS if (n in fa or n in fb) and not same(
        n, value(ra[ref], n) if n in fa else value(start, n), value(rb[ref], n) if n in fb else value(start, n), cb)]
    if diff:
        return None, f"passes disagree on {', '.join(diff)}; needs a resolved file for ref {ref:03d}"
    return ra[ref], "pass a (both passes agree)"


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
    """One CSV row; evidence items "field: quote [url]" (url when it is not the row's source_url,
    and always for values of a later round; quotes from the review itself tagged REVIEW_TAG)."""
    row = {c: "" for c in cb.columns}
    for name in BIBLIO:
        row[name] = format_cell(study.get(name))
    quotes, n_values, n_quoted, from_review = [], 0, 0, False
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
            where = f" [{url}]" if url and (entry.get("round") or url != study.get("source_url")) else ""
            tag = f"{REVIEW_TAG} " if url == REVIEW_URL else ""
            from_review = from_review or bool(tag)
            quotes.append(f"{name}: {tag}{' '.join(str(quote).split())}{where}")
    later = study.get("_rounds", [])
    row["source_url"] = format_cell(study.get("source_url"))
    row["evidence"] = " | ".join(quotes) or f"no codable values stated in the source ({origin})"
    coder = study.get("coder") or ""
    row["coded_by"] = "; ".join([f"{origin}: {coder}" if coder else origin] +
                                [f"round {r['round']} {r['origin']}: {r['coder']}" if r["coder"]
                                 else f"round {r['round']} {r['origin']}" for r in later])
    row["coded_on"] = max([format_cell(study.get("coded_on"))] + [format_cell(r["coded_on"]) for r in later])
    row["confidence"] = ("low" if n_values == 0 else "high" if n_quoted == n_values and not from_review
                         else "medium")
    notes = [str(study.get("note") or "")] + [f"round {r['round']}: {r['note']}" for r in later if r["note"]]
    row["notes"] = " || ".join(" ".join(n.split()) for n in notes if n.strip())
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
