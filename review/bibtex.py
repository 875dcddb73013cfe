"""Import real-world BibTeX into the studies CSV as skeleton rows.

bibtexparser 2.x does the parsing (@string macros resolved, @comment and
@preamble ignored, LaTeX accents and braces decoded to Unicode); this module
turns each entry into a codebook row and decides, per entry, one of:

- added: a new skeleton row (bibliographic fields only, nothing coded);
- merged: the study is already in the CSV (same DOI, or same normalised title
  and year); its *empty* bibliographic cells (doi, journal, authors) are
  filled from the entry, never overwritten;
- skipped: with the reason (already present with nothing new, duplicate key
  or duplicate study in the same file, unparsable block, required field
  missing, no DOI/URL to serve as source).

Skeleton rows validate like any row. Their required provenance fields are
filled as: source_url = https://doi.org/<doi>, else the entry's url, else the
`source_url` argument (`--source-url`); coded_by = "import-bib";
confidence = "low"; coded_on = today; evidence = "bibliographic skeleton from
BibTeX entry '<key>' (<file>, line <n>); nothing coded yet". study_id = the
BibTeX key when it fits the codebook pattern and is free, else first author's
surname + year (+ a, b, ... when taken).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bibtexparser
from bibtexparser import middlewares as mw
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, ParsingFailedBlock

from review.codebook import Codebook, load_codebook
from review.store import _identity_keys, check_cell, join_multi, rewrite_rows, validate_frame

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
BIBLIO_FIELDS = ("doi", "journal", "authors")


@dataclass
class BibRecord:
    """One parsed entry, already decoded to plain Unicode text."""

    key: str
    line: int
    entry_type: str
    authors: list[str]
    et_al: bool
    title: str
    year: str
    journal: str
    doi: str
    url: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """What `import_bib` did with each entry; `to_dict` is the JSON of `review import-bib`."""

    bib: str
    csv: str
    dry_run: bool = False
    added: list[dict[str, Any]] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- parsing
def parse_bib(text: str) -> tuple[list[BibRecord], list[dict[str, Any]]]:
    """(records, skipped blocks with reasons) of a BibTeX string."""
    quiet = logging.getLogger("bibtexparser")  # its own log repeats what `skipped` reports
    level, quiet.level = quiet.level, logging.CRITICAL
    try:
        library = bibtexparser.parse_string(
            text, append_middleware=[mw.LatexDecodingMiddleware(), mw.SeparateCoAuthors(), mw.SplitNameParts()])
    finally:
        quiet.setLevel(level)
    skipped = []
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            skipped.append({"key": block.key, "line": line,
                            "reason": f"duplicate BibTeX key {block.key!r}; the first entry with this key was used"})
        elif isinstance(block, ParsingFailedBlock):
            error = block.error
            error = (getattr(error, "abort_reason", "") or getattr(error, "message", "") or str(error)
                     or "syntax error")
            error = " ".join(str(error).split())
            skipped.append({"key": _guess_key(block.raw), "line": line,
                            "reason": f"could not parse the block ({error}); check its braces and commas"})
    return [_record(e) for e in library.entries], skipped


def _guess_key(raw: str) -> str:
    m = re.match(r"\s*@\w+\s*[{(]\s*([^,\s]+)", raw or "")
    return m.group(1) if m else ""


def _record(entry: Entry) -> BibRecord:
    fields = {k.lower(): v for k, v in entry.fields_dict.items()}

    def text(name: str) -> str:
        value = fields[name].value if name in fields else ""
        return " ".join(str(value).replace("{", "").replace("}", "").split())

    names = fields["author"].value if "author" in fields else []
    if isinstance(names, str):  # SplitNameParts leaves unparsable names as text
        names = []
    authors = [_author(n) for n in names if " ".join(n.last).lower() != "others"]
    et_al = any(" ".join(n.last).lower() == "others" for n in names)
    year = re.search(r"\b(1[89]\d\d|2\d\d\d)\b", text("year") or text("date"))
    return BibRecord(key=entry.key, line=(entry.start_line or 0) + 1, entry_type=entry.entry_type.lower(),
                     authors=[a for a in authors if a], et_al=et_al, title=text("title"),
                     year=year.group(1) if year else "",
                     journal=text("journal") or text("booktitle") or text("howpublished"),
                     doi=_DOI_PREFIX.sub("", text("doi")), url=text("url"))


def _author(name: Any) -> str:
    """'Surname Initials' (e.g. 'Le Roux M-K') from bibtexparser NameParts."""
    surname = " ".join(" ".join(list(name.von) + list(name.last)).replace("{", "").replace("}", "").split())
    initials = ""
    for token in " ".join(name.first).replace("{", "").replace("}", "").split():
        parts = [p.strip(".") for p in token.split("-")]
        initials += "-".join(p[:1].upper() for p in parts if p)
    return f"{surname} {initials}".strip()


# ---------------------------------------------------------------- rows
def _ascii_slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z]", "", "".join(c for c in text if not unicodedata.combining(c)).lower())


def new_study_id(rec: BibRecord, taken: set[str], pattern: str) -> str:
    """The BibTeX key if usable, else surname + year (+ a, b, ...)."""
    if re.search(pattern, rec.key) and rec.key not in taken:
        return rec.key
    surname = rec.authors[0].rsplit(" ", 1)[0] if rec.authors else ""
    base = (_ascii_slug(surname) or "study") + rec.year
    for suffix in [""] + [chr(c) for c in range(ord("a"), ord("z") + 1)]:
        if base + suffix not in taken:
            return base + suffix
    raise ValueError(f"no free study_id for {base}")


@dataclass(frozen=True)
class SourceFormat:
    """How rows made from one kind of file are labelled (BibTeX, RIS, ...)."""

    entry: str = "BibTeX entry"   # "<entry> 'key'" in evidence, notes and skip reasons
    coded_by: str = "import-bib"
    file_kind: str = "BibTeX"


BIBTEX = SourceFormat()


def skeleton(rec: BibRecord, study_id: str, cb: Codebook, bib_name: str,
             source_url: str | None = None, fmt: SourceFormat = BIBTEX) -> tuple[dict[str, str] | None, str]:
    """(row, '') for a valid skeleton, or (None, reason to skip)."""
    missing = [n for n, v in (("title", rec.title), ("year", rec.year), ("author", rec.authors)) if not v]
    if missing:
        return None, f"missing {', '.join(missing)}; add it to the {fmt.entry}"
    notes = list(rec.warnings)
    doi = rec.doi
    if doi and check_cell(cb["doi"], doi):
        notes.append(f"{fmt.file_kind} doi {doi!r} ignored: not a bare DOI")
        doi = ""
    url = rec.url if rec.url.startswith(("http://", "https://")) else ""
    source = f"https://doi.org/{doi}" if doi else url or (source_url or "")
    if not source:
        return None, "no doi or url to serve as source_url; pass --source-url URL (where the file came from)"
    if rec.et_al:
        notes.append(f"author list ends with 'and others' in the {fmt.entry}")
    row = {c: "" for c in cb.columns}
    row.update(study_id=study_id, authors=join_multi(rec.authors, cb.list_separator), year=rec.year,
               title=rec.title, journal=rec.journal, doi=doi, source_url=source,
               evidence=f"bibliographic skeleton from {fmt.entry} '{rec.key}' ({bib_name}, line {rec.line}); "
                        "nothing coded yet",
               coded_by=fmt.coded_by, coded_on=dt.date.today().isoformat(), confidence="low",
               notes="; ".join(notes))
    problems = validate_frame(_frame([row], cb), cb)
    if problems:
        return None, "entry does not give a valid row: " + "; ".join(f"{p.column}: {p.message}" for p in problems)
    return row, ""


def _frame(rows: list[dict[str, str]], cb: Codebook):
    import pandas as pd
    return pd.DataFrame(rows, columns=cb.columns, dtype="str")


# ---------------------------------------------------------------- import
def import_bib(bib_path: str | Path, csv_path: str | Path, source_url: str | None = None,
               dry_run: bool = False, codebook: Codebook | None = None) -> ImportReport:
    """Add / merge / skip every entry of a .bib file; one atomic write at the end."""
    cb = codebook or load_codebook()
    bib_path = Path(bib_path)
    try:
        text = bib_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{bib_path}: no such BibTeX file") from None
    records, skipped = parse_bib(text)
    return import_records(records, skipped, bib_path, csv_path, source_url, dry_run, cb, BIBTEX)


def import_records(records: list[BibRecord], skipped: list[dict[str, Any]], source_path: Path,
                   csv_path: str | Path, source_url: str | None = None, dry_run: bool = False,
                   codebook: Codebook | None = None, fmt: SourceFormat = BIBTEX) -> ImportReport:
    """Add / merge / skip parsed records (BibTeX, RIS, ...): one validated atomic write under the lock."""
    cb = codebook or load_codebook()
    report = ImportReport(bib=str(source_path), csv=str(csv_path), dry_run=dry_run, skipped=list(skipped))

    def transform(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], set[int]]:
        _plan(records, rows, report, cb, Path(source_path).name, source_url, fmt)
        changed = {i for i, r in enumerate(rows) if r.pop("_changed", False)}
        return rows, set() if dry_run else changed

    rewrite_rows(csv_path, transform, cb)
    report.skipped.sort(key=lambda item: item["line"])
    return report


def _plan(records: list[BibRecord], rows: list[dict[str, str]], report: ImportReport, cb: Codebook,
          bib_name: str, source_url: str | None, fmt: SourceFormat = BIBTEX) -> None:
    """Decide each record's fate, mutating `rows` (new rows appended, merged rows filled)."""
    index = {key: i for i, r in enumerate(rows) for _, key in _identity_keys(r) if key[0] != "id"}
    seen_in_bib: dict[tuple, str] = {}
    taken = {r["study_id"] for r in rows}
    for rec in records:
        keys = [k for _, k in _identity_keys({"doi": rec.doi.casefold(), "title": rec.title, "year": rec.year})]
        twin = next((seen_in_bib[k] for k in keys if k in seen_in_bib), None)
        if twin:
            report.skipped.append({"key": rec.key, "line": rec.line,
                                   "reason": f"same study as entry {twin!r} earlier in the file"})
            continue
        seen_in_bib.update({k: rec.key for k in keys})
        hit = next((index[k] for k in keys if k in index), None)
        if hit is not None:
            _merge(rec, rows[hit], report, cb, fmt)
            continue
        study_id = new_study_id(rec, taken, cb["study_id"].pattern or ".")
        row, reason = skeleton(rec, study_id, cb, bib_name, source_url, fmt)
        if row is None:
            report.skipped.append({"key": rec.key, "line": rec.line, "reason": reason})
            continue
        taken.add(study_id)
        index.update({key: len(rows) for _, key in _identity_keys(row) if key[0] != "id"})
        rows.append({**row, "_changed": True})
        report.added.append({"key": rec.key, "line": rec.line, "study_id": study_id, "notes": row["notes"]})


def _merge(rec: BibRecord, row: dict[str, str], report: ImportReport, cb: Codebook,
           fmt: SourceFormat = BIBTEX) -> None:
    new = {"doi": rec.doi if rec.doi and not check_cell(cb["doi"], rec.doi) else "",
           "journal": rec.journal, "authors": join_multi(rec.authors, cb.list_separator)}
    filled = [f for f in BIBLIO_FIELDS if not row.get(f) and new[f]]
    if not filled:
        report.skipped.append({"key": rec.key, "line": rec.line,
                               "reason": f"already present as {row['study_id']!r}; nothing new to merge"})
        return
    for f in filled:
        row[f] = new[f]
    stamp = f"{fmt.coded_by} {dt.date.today().isoformat()}: filled {', '.join(filled)} from {fmt.entry} '{rec.key}'"
    row["notes"] = f"{row['notes']} | {stamp}" if row.get("notes") else stamp
    row["_changed"] = True
    report.merged.append({"key": rec.key, "line": rec.line, "study_id": row["study_id"], "fields": filled})


__all__ = ["BIBTEX", "BibRecord", "ImportReport", "SourceFormat", "import_bib", "import_records", "new_study_id",
           "parse_bib", "skeleton"]
