"""Write the studies CSV's bibliography as BibTeX (the inverse of `import-bib`).

`data/references.bib` is generated from `data/studies.csv` with this module,
so the two never drift apart: one `@article` per study, keyed by `study_id`,
with authors, title, journal, year and DOI (and the review's reference number
in `note`). Written atomically, with bibtexparser's writer.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from review.store import DEFAULT_CSV, load_studies, split_multi, write_text_atomic

DEFAULT_BIB = DEFAULT_CSV.with_name("references.bib")


def _bibtex_author(name: str) -> str:
    """"Surname Initials" -> "Surname, I." style that BibTeX parses into last/first."""
    parts = name.split()
    if len(parts) < 2:
        return name
    surname, initials = " ".join(parts[:-1]), parts[-1]
    if initials.replace("-", "").isupper() and len(initials.replace("-", "")) <= 4:
        return f"{surname}, {' '.join(ch + '.' for ch in initials if ch.isalpha())}"
    return name


def studies_to_bibtex(df: pd.DataFrame) -> str:
    """BibTeX text for every study in `df` (ordered as given)."""
    from bibtexparser import Library, write_string
    from bibtexparser.model import Entry, Field

    lib = Library()
    for _, row in df.iterrows():
        fields = []
        authors = split_multi(row.get("authors"))
        if authors:
            fields.append(Field("author", " and ".join(_bibtex_author(a) for a in authors)))
        for name, column in (("title", "title"), ("journal", "journal"), ("year", "year"), ("doi", "doi")):
            value = row.get(column)
            if value is not None and not pd.isna(value) and str(value).strip():
                text = str(int(value)) if name == "year" else str(value)
                fields.append(Field(name, "{" + text + "}" if name == "title" else text))
        if not pd.isna(row.get("ref_number")):
            fields.append(Field("note", f"Kim et al. 2022 (BMC Med Imaging 22:69), reference {int(row['ref_number'])}"))
        lib.add(Entry("article", str(row["study_id"]), fields))
    return write_string(lib)


def export_bib(csv: str | Path = DEFAULT_CSV, out: str | Path = DEFAULT_BIB) -> int:
    """Write `out` from `csv`; return the number of entries."""
    df = load_studies(csv)
    text = studies_to_bibtex(df)
    write_text_atomic(out, text)
    return len(df)
