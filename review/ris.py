"""RIS (Web of Science, Scopus, reference managers) and PubMed MEDLINE (.nbib) import and RIS export.

rispy parses the records. The file is first cut into records here, so that
each record keeps its line number and one broken record (no ``ER  -`` end
tag) is skipped with a reason instead of silently dropped; a byte-order
mark, CRLF line ends and lines outside records (database banners, search
strategies) are tolerated. PubMed's own export, the MEDLINE format of
``.nbib`` files (``PMID- ``, ``TI  - ``, ``FAU - ``, ``AID - 10... [doi]``),
goes through a rispy parser subclass with MEDLINE's tags.

Records become the same `BibRecord`s as BibTeX entries, so the import reuses
`review.bibtex`'s de-duplication, merge rules and skip reasons (see
`review.bibtex.import_records`); rows made here have coded_by "import-ris".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rispy

from review.bibtex import BibRecord, ImportReport, SourceFormat, import_records
from review.codebook import Codebook

RIS = SourceFormat(entry="RIS record", coded_by="import-ris", file_kind="RIS")
MEDLINE = SourceFormat(entry="MEDLINE record", coded_by="import-ris", file_kind="MEDLINE")
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9]) {1,2}-(?: |$)")
_MEDLINE_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- ")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d\d|2\d\d\d)\b")


class RisError(ValueError):
    """A file that holds no readable RIS or MEDLINE record; the message names the file."""


class MedlineParser(rispy.RisParser):
    """rispy parser for PubMed's MEDLINE format (tags of up to four letters, 'TAG - value')."""

    START_TAG = "PMID"
    END_TAG = "ER"  # MEDLINE has none: `split_records` adds one after each record
    DEFAULT_MAPPING = {"PMID": "id", "TI": "title", "AU": "authors", "FAU": "full_authors", "DP": "date",
                       "JT": "journal_name", "TA": "journal_abbreviation", "LID": "location_ids",
                       "AID": "article_ids", "PT": "publication_types", "ER": "end", "UK": "unknown_tag"}
    DEFAULT_LIST_TAGS = ["AU", "FAU", "LID", "AID", "PT"]

    def parse_line(self, line: str):
        match = _MEDLINE_TAG.match(line)
        return (match.group(1), line[match.end():].strip()) if match else (None, line.strip())


@dataclass
class RawRecord:
    """One record's text and where it starts in the file."""

    line: int
    text: str


def detect_format(text: str) -> SourceFormat:
    """MEDLINE when the first tag line is 'PMID- ', else RIS."""
    for line in text.splitlines():
        if line.strip():
            return MEDLINE if line.startswith("PMID") and _MEDLINE_TAG.match(line) else RIS
    return RIS


def split_records(text: str, fmt: SourceFormat) -> tuple[list[RawRecord], list[dict[str, Any]]]:
    """(records, skipped) of a RIS or MEDLINE text; each record ends with a normalised end tag."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    records: list[RawRecord] = []
    skipped: list[dict[str, Any]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if fmt is MEDLINE:
            if line.startswith("PMID") and _MEDLINE_TAG.match(line):
                if current:
                    records.append(RawRecord(start, "\n".join(current + ["ER  - "])))
                current, start = [line], number
            elif current:
                current.append(line)
            continue
        match = _RIS_TAG.match(line)
        tag = match.group(1) if match else None
        if tag == "TY":
            if current:
                skipped.append({"key": "", "line": start, "reason": "RIS record has no 'ER  -' end tag before "
                                f"the next record (line {number}); it was not read"})
            current, start = [f"TY  - {line[match.end():].strip()}"], number
        elif tag == "ER" and current:
            records.append(RawRecord(start, "\n".join(current + ["ER  - "])))
            current = []
        elif current:
            current.append(f"{tag}  - {line[match.end():]}" if match else line)
    if current and fmt is MEDLINE:
        records.append(RawRecord(start, "\n".join(current + ["ER  - "])))
    elif current:
        skipped.append({"key": "", "line": start,
                        "reason": "RIS record has no 'ER  -' end tag at the end of the file; it was not read"})
    return records, skipped


def parse_ris(text: str) -> tuple[list[BibRecord], list[dict[str, Any]], SourceFormat]:
    """(records, skipped, format) of a RIS or MEDLINE text."""
    fmt = detect_format(text)
    raw, skipped = split_records(text, fmt)
    parser = MedlineParser if fmt is MEDLINE else rispy.RisParser
    records = []
    for i, item in enumerate(raw, start=1):
        parsed = rispy.loads(item.text, implementation=parser)
        if len(parsed) != 1:
            skipped.append({"key": "", "line": item.line, "reason": f"{fmt.entry} could not be parsed"})
            continue
        records.append(_medline_record(parsed[0], item.line, i) if fmt is MEDLINE else
                       _ris_record(parsed[0], item.line, i))
    return records, skipped, fmt


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return " ".join(str(value or "").split())


def _ris_record(ref: dict[str, Any], line: int, ordinal: int) -> BibRecord:
    authors = [a for a in (ref.get("authors") or []) + (ref.get("first_authors") or []) if str(a).strip()]
    title = _text(ref.get("title") or ref.get("primary_title"))
    journal = _text(ref.get("secondary_title") or ref.get("journal_name") or ref.get("alternate_title3")
                    or ref.get("alternate_title1") or ref.get("alternate_title2"))
    year = _YEAR.search(" ".join(_text(ref.get(k)) for k in ("year", "publication_year", "date")))
    urls = [u for u in (ref.get("urls") or []) if str(u).startswith(("http://", "https://"))]
    key = _text(ref.get("id")) or _text(ref.get("accession_number")) or f"record {ordinal}"
    return BibRecord(key=key, line=line, entry_type=_text(ref.get("type_of_reference")).lower(),
                     authors=list(dict.fromkeys(person_name(a) for a in authors if person_name(a))),
                     et_al=False, title=title, year=year.group(1) if year else "", journal=journal,
                     doi=_DOI_PREFIX.sub("", _text(ref.get("doi"))), url=urls[0] if urls else "")


def _medline_record(ref: dict[str, Any], line: int, ordinal: int) -> BibRecord:
    names = ref.get("full_authors") or ref.get("authors") or []
    ids = (ref.get("article_ids") or []) + (ref.get("location_ids") or [])
    doi = next((i.split()[0] for i in ids if i.strip().endswith("[doi]")), "")
    pmid = _text(ref.get("id"))
    year = _YEAR.search(_text(ref.get("date")))
    return BibRecord(key=f"PMID {pmid}" if pmid else f"record {ordinal}", line=line, entry_type="jour",
                     authors=list(dict.fromkeys(person_name(a) for a in names if person_name(a))),
                     et_al=False, title=_text(ref.get("title")).rstrip("."), year=year.group(1) if year else "",
                     journal=_text(ref.get("journal_name")), doi=doi,
                     url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid.isdigit() else "")


def person_name(name: Any) -> str:
    """'Surname Initials' from 'Surname, Given Names' (RIS, MEDLINE FAU) or 'Surname AB' (MEDLINE AU)."""
    text = " ".join(str(name or "").split())
    if not text:
        return ""
    if "," in text:
        surname, given = (part.strip() for part in text.split(",", 1))
        initials = "".join("-".join(p[:1].upper() for p in token.strip(".").split("-") if p)
                           for token in given.replace(".", ". ").split())
        return f"{surname} {initials}".strip()
    parts = text.split()
    if len(parts) > 1 and parts[-1].isupper() and len(parts[-1]) <= 4:  # MEDLINE AU: "Kim HE"
        return text
    return f"{parts[-1]} {''.join(p[:1].upper() for p in parts[:-1])}".strip() if len(parts) > 1 else text


def import_ris(ris_path: str | Path, csv_path: str | Path, source_url: str | None = None,
               dry_run: bool = False, codebook: Codebook | None = None) -> ImportReport:
    """Add / merge / skip every record of a RIS or .nbib file, like `review.bibtex.import_bib`."""
    ris_path = Path(ris_path)
    try:
        text = ris_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RisError(f"{ris_path}: no such RIS file") from None
    except UnicodeDecodeError as exc:
        raise RisError(f"{ris_path}: not UTF-8 text ({exc}); export the file as UTF-8") from None
    records, skipped, fmt = parse_ris(text)
    if not records and not skipped:
        raise RisError(f"{ris_path}: no RIS record ('TY  - ' ... 'ER  - ') or PubMed MEDLINE record "
                       "('PMID- ') found; is this a RIS or .nbib export?")
    return import_records(records, skipped, ris_path, csv_path, source_url, dry_run, codebook, fmt)


# --------------------------------------------------------------------------- export
class PlainRisWriter(rispy.RisWriter):
    """rispy's writer without its "1.", "2." counter line before each record (strict readers stumble)."""

    def set_header(self, count: int) -> str:
        return ""


def studies_to_ris(df) -> str:
    """RIS text for every study (TY JOUR; AU, TI, T2, PY, DO, UR, ID = study_id) via rispy."""
    import pandas as pd

    from review.store import split_multi

    refs = []
    for _, row in df.iterrows():
        ref: dict[str, Any] = {"type_of_reference": "JOUR", "id": str(row["study_id"])}
        authors = [_ris_author(a) for a in split_multi(row.get("authors"))]
        if authors:
            ref["authors"] = authors
        for key, column in (("title", "title"), ("secondary_title", "journal"), ("doi", "doi")):
            value = row.get(column)
            if value is not None and not pd.isna(value) and str(value).strip():
                ref[key] = str(value)
        if not pd.isna(row.get("year")):
            ref["year"] = str(int(row["year"]))
        url = row.get("source_url")
        if url is not None and not pd.isna(url):
            ref["urls"] = [str(url)]
        refs.append(ref)
    return rispy.dumps(refs, implementation=PlainRisWriter)


def _ris_author(name: str) -> str:
    """'Surname Initials' -> 'Surname, I.' (RIS' 'Last, First' form)."""
    parts = name.split()
    if len(parts) >= 2 and parts[-1].replace("-", "").isupper() and len(parts[-1].replace("-", "")) <= 4:
        return f"{' '.join(parts[:-1])}, {'. '.join(ch for ch in parts[-1] if ch.isalpha())}."
    return name


__all__ = ["MEDLINE", "RIS", "MedlineParser", "RisError", "detect_format", "import_ris", "parse_ris",
           "person_name", "split_records", "studies_to_ris"]
