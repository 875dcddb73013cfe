"""`export_studies(csv, out, fmt)`: the studies CSV as CSV, XLSX, RIS or BibTeX.

CSV and XLSX go through `review.spreadsheet.neutralise` (no cell runs as a
formula in a spreadsheet; numbers stay numbers); RIS and BibTeX are
bibliographies (`review.ris.studies_to_ris`, `review.export_bib.studies_to_bibtex`).
The CSV is validated first; every file is written atomically.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from review.codebook import Codebook, load_codebook
from review.spreadsheet import neutralise
from review.store import StudyFileError, load_studies, read_text_frame, write_text_atomic

FORMATS: tuple[str, ...] = ("csv", "xlsx", "ris", "bib")


def studies_csv_text(csv_path: str | Path, codebook: Codebook | None = None) -> tuple[str, int]:
    """(CSV text with every cell neutralised, rows) of a validated studies CSV."""
    cb = codebook or load_codebook()
    load_studies(csv_path, codebook=cb)  # refuses an invalid CSV with file, line and column
    frame = read_text_frame(csv_path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(cb.columns)
    for record in frame.to_dict("records"):
        writer.writerow([neutralise(record.get(c, "")) for c in cb.columns])
    return buffer.getvalue(), len(frame)


def export_studies(csv_path: str | Path, out: str | Path, fmt: str, codebook: Codebook | None = None) -> int:
    """Write `out` in `fmt` (csv, xlsx, ris, bib) from the studies CSV; return the number of studies."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}. Got {fmt!r} instead.")
    if Path(out).resolve() == Path(csv_path).resolve():
        raise StudyFileError(f"{out}: refusing to overwrite the studies CSV with an export; choose another --out")
    if fmt == "csv":
        text, n = studies_csv_text(csv_path, codebook)
        write_text_atomic(out, text)
        return n
    if fmt == "xlsx":
        from review.xlsx import export_xlsx

        return export_xlsx(csv_path, out, codebook)
    df = load_studies(csv_path, codebook=codebook)
    if fmt == "ris":
        from review.ris import studies_to_ris

        write_text_atomic(out, studies_to_ris(df))
    else:
        from review.export_bib import studies_to_bibtex

        write_text_atomic(out, studies_to_bibtex(df))
    return len(df)
