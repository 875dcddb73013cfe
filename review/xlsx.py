"""Spreadsheet exchange of the studies CSV: XLSX export and import (openpyxl).

Export: sheet "studies" (one row per study, the CSV's columns; numbers as
numbers, text through `review.spreadsheet.neutralise` so that no cell runs as
a formula) and sheet "codebook" (each column's type, allowed values and
description, for whoever fills the sheet).

Import (`import_xlsx`): the "studies" sheet (or the first sheet) is matched to
the CSV by study_id. Cells that differ from the CSV replace them; rows with a
new study_id are added; rows of the CSV missing from the sheet are kept
(the tools never delete studies). The guard's quotes are removed exactly
(`review.spreadsheet.restore`), so export -> edit one cell -> import changes
exactly that cell. Changed and added rows are validated like `review add`
(codebook, consistency rules, duplicates) and written in one atomic write
under the CSV's lock; on any problem nothing is written and each problem names
the workbook, its row and column. Formula cells are refused: type the value.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from review.codebook import Codebook, load_codebook
from review.spreadsheet import neutralise, restore
from review.store import (InvalidStudyError, Problem, StudyFileError, format_cell, load_studies, rewrite_rows,
                          validate_frame, write_bytes_atomic)

SHEET = "studies"
CODEBOOK_SHEET = "codebook"


# --------------------------------------------------------------------------- export
def studies_workbook(df: pd.DataFrame, codebook: Codebook | None = None) -> bytes:
    """The XLSX bytes of a typed studies frame (see module doc)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    cb = codebook or load_codebook()
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(cb.columns)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for record in df[cb.columns].to_dict("records"):
        ws.append([_xlsx_value(record[c], cb.fields[c].type) for c in cb.columns])
    ws.freeze_panes = "B2"
    info = wb.create_sheet(CODEBOOK_SHEET)
    info.append(["column", "type", "required", "allowed", "description"])
    for f in cb.fields.values():
        info.append([neutralise(v) for v in (f.name, f.type, "yes" if f.required else "", f.allowed(),
                                             " ".join((f.description or "").split()))])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: Any, ftype: str) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if ftype == "int":
        return int(value)
    if ftype == "float":
        return float(value)
    return neutralise(str(value))


def export_xlsx(csv_path: str | Path, out: str | Path, codebook: Codebook | None = None) -> int:
    """Write the CSV's studies to `out` (.xlsx) atomically; return the number of rows."""
    df = load_studies(csv_path, codebook=codebook)
    write_bytes_atomic(out, studies_workbook(df, codebook))
    return len(df)


# --------------------------------------------------------------------------- import
class SheetError(StudyFileError):
    """The workbook cannot be read as a studies sheet; the message names file, row and column."""


@dataclass
class XlsxImportReport:
    """What `import_xlsx` did; `to_dict` is the JSON of `review import-xlsx`."""

    xlsx: str
    csv: str
    dry_run: bool = False
    changed: list[dict[str, Any]] = field(default_factory=list)   # {study_id, sheet_row, fields}
    added: list[dict[str, Any]] = field(default_factory=list)     # {study_id, sheet_row}
    unchanged: int = 0
    not_in_sheet: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cell_text(value: Any, where: str) -> str:
    """A cell's value as the CSV's text (guard quotes removed, numbers in their shortest form)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise SheetError(f"{where}: TRUE/FALSE is not a value of this codebook; type the text")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return format_cell(value)
    return restore(str(value))


def _same(old: str, new: str, ftype: str) -> bool:
    """Equal cells; numbers compare by value ("0.70" in the CSV is the sheet's 0.7)."""
    if old == new:
        return True
    if ftype in ("int", "float"):
        try:
            return float(old) == float(new)
        except ValueError:
            return False
    return False


def read_sheet(path: str | Path, codebook: Codebook | None = None) -> list[tuple[int, dict[str, str]]]:
    """(sheet row number, {column: text}) of every non-blank data row of the studies sheet."""
    from openpyxl import load_workbook

    cb = codebook or load_codebook()
    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except FileNotFoundError:
        raise SheetError(f"{path}: no such workbook") from None
    except Exception as exc:  # openpyxl raises zipfile, KeyError, ValueError... for non-XLSX files
        raise SheetError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
        rows = ws.iter_rows()
        try:
            header_cells = next(rows)
        except StopIteration:
            raise SheetError(f"{path}, sheet {ws.title!r}: empty; expected a header row with the CSV's "
                             "columns") from None
        header = [str(c.value).strip() if c.value is not None else "" for c in header_cells]
        while header and header[-1] == "":
            header.pop()
        unknown = [h for h in header if h not in cb.fields]
        if unknown:
            raise SheetError(f"{path}, sheet {ws.title!r}, row 1: unknown column(s) {unknown}; "
                             f"expected the CSV's columns: {', '.join(cb.columns)}")
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup or "study_id" not in header:
            raise SheetError(f"{path}, sheet {ws.title!r}, row 1: " + (f"column(s) {dup} appear twice" if dup
                             else "no study_id column; it matches sheet rows to studies"))
        out = []
        for number, cells in enumerate(rows, start=2):
            record = {}
            for column, cell in zip(header, cells):
                where = f"{path}, sheet {ws.title!r}, row {number}, column {column!r}"
                if cell.data_type == "f":
                    raise SheetError(f"{where}: a formula ({cell.value!r}); type the value instead")
                record[column] = _cell_text(cell.value, where)
            if any(v.strip() for v in record.values()):
                out.append((number, record))
        return out
    finally:
        wb.close()


def import_xlsx(xlsx_path: str | Path, csv_path: str | Path, dry_run: bool = False,
                codebook: Codebook | None = None) -> XlsxImportReport:
    """Apply a filled-in studies sheet to the CSV (see module doc); nothing is written on error."""
    cb = codebook or load_codebook()
    xlsx_path = Path(xlsx_path)
    sheet = read_sheet(xlsx_path, cb)
    report = XlsxImportReport(xlsx=str(xlsx_path), csv=str(csv_path), dry_run=dry_run)
    problems = []
    seen: dict[str, int] = {}
    for number, record in sheet:
        sid = record.get("study_id", "")
        if not sid:
            problems.append(Problem(number, "study_id", "", "empty; every row needs its study_id",
                                    None, str(xlsx_path)))
        elif sid in seen:
            problems.append(Problem(number, "study_id", sid, f"appears twice in the sheet (row {seen[sid]} and "
                                    f"row {number}); keep one row per study", None, str(xlsx_path)))
        else:
            seen[sid] = number
    if problems:
        raise InvalidStudyError(problems, context=f"{xlsx_path}: not importing")

    def transform(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], set[int]]:
        index = {r["study_id"]: i for i, r in enumerate(rows)}
        sheet_row_of: dict[int, int] = {}
        changed: set[int] = set()
        for number, record in sheet:
            sid = record["study_id"]
            if sid in index:
                i = index[sid]
                fields = [c for c, v in record.items() if not _same(rows[i].get(c, ""), v, cb.fields[c].type)]
                if fields:
                    rows[i].update({c: record[c] for c in fields})
                    changed.add(i)
                    sheet_row_of[i] = number
                    report.changed.append({"study_id": sid, "sheet_row": number, "fields": fields})
                else:
                    report.unchanged += 1
            else:
                new = {c: record.get(c, "") for c in cb.columns}
                new["coded_on"] = new["coded_on"] or dt.date.today().isoformat()  # as `review add` does
                rows.append(new)
                changed.add(len(rows) - 1)
                sheet_row_of[len(rows) - 1] = number
                report.added.append({"study_id": sid, "sheet_row": number})
        report.not_in_sheet = [r["study_id"] for r in rows if r["study_id"] not in seen]
        frame = pd.DataFrame(rows, columns=cb.columns, dtype="str")
        found = [p for p in validate_frame(frame, cb) if p.row is None or p.row - 1 in changed]
        if found:
            raise InvalidStudyError([Problem(sheet_row_of.get((p.row or 0) - 1), p.column, p.value, p.message,
                                             None, str(xlsx_path)) for p in found],
                                    context=f"{xlsx_path}: not importing (rows are the sheet's)")
        return rows, set() if dry_run else changed

    rewrite_rows(csv_path, transform, cb)
    return report


__all__ = ["SheetError", "XlsxImportReport", "export_xlsx", "import_xlsx", "read_sheet", "studies_workbook"]
