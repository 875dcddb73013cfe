"""The coded-study store: read, validate and safely write `data/studies.csv`.

The CSV is plain UTF-8, one row per study, columns in codebook order, empty
cell = not stated. Every write goes to a temporary file in the same folder
and is moved into place with `os.replace` while holding a `filelock.FileLock`
(`<csv>.lock`), so a crash never leaves a half-written file and concurrent
writers (`review add` processes, the dashboard's sessions, the importers)
all land; `locked(path)` lends that lock to a read-modify-write elsewhere.

Problems carry `row` (1-based data row, header excluded) and, when read from
a file, `line` (the physical CSV line where the row starts, header = line 1).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlparse

import pandas as pd
from filelock import FileLock

from review.codebook import Codebook, Field, load_codebook

DEFAULT_CSV = Path(__file__).resolve().parents[1] / "data" / "studies.csv"
LOCK_TIMEOUT_S = 60.0


class StudyError(Exception):
    """Base class of every error about studies or the studies CSV."""


class StudyFileError(StudyError):
    """The CSV cannot be read or written (missing, unreadable header, ...)."""


class InvalidStudyError(StudyError):
    """One or more rows break the codebook; `.problems` lists them."""

    def __init__(self, problems: list["Problem"], context: str = ""):
        self.problems = problems
        head = f"{context}: " if context else ""
        body = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{head}{len(problems)} problem(s); fix them and try again:\n{body}{more}")


class DuplicateStudyError(StudyError):
    """The study is already in the CSV (same study_id, DOI or title + year)."""

    def __init__(self, message: str, existing_id: str):
        self.existing_id = existing_id
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    """One validation finding. `row` is the 1-based data row (None = whole file)."""

    row: int | None
    column: str
    value: str
    message: str
    line: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file + (f":{self.line}" if self.line else ""))
        where.append(f"row {self.row}" if self.row is not None else "header")
        return f"{', '.join(where)}, column {self.column!r}, value {self.value!r}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- helpers
def split_multi(value: Any) -> list[str]:
    """Items of a "; "-joined cell ([] for empty / missing); lenient about spaces."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return []
    return [item.strip() for item in str(value).split(";") if item.strip()]


def join_multi(values: Iterable[str], sep: str = "; ") -> str:
    """Inverse of `split_multi`: drop empties and duplicates, keep order."""
    seen: dict[str, None] = {}
    for v in values:
        v = str(v).strip()
        if v:
            seen.setdefault(v, None)
    return sep.join(seen)


def normalise_title(title: Any) -> str:
    """Title key for duplicate detection: accents, case, punctuation and spacing ignored."""
    if title is None or (not isinstance(title, str) and pd.isna(title)):
        return ""
    text = unicodedata.normalize("NFKD", str(title))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def format_cell(value: Any) -> str:
    """Text of one CSV cell: '' for missing, shortest round-trip form for numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) or hasattr(value, "dtype") and "float" in str(value.dtype):
        f = float(value)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    return str(value)


# ---------------------------------------------------------------- reading
def _read_raw(path: Path) -> tuple[list[str], list[dict[str, str]], list[int]]:
    """Header, rows as text and each row's starting line number."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise StudyFileError(f"{path}: no such studies CSV; check the path or pass --csv PATH") from None
    except UnicodeDecodeError as exc:
        raise StudyFileError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [], []
    except csv.Error as exc:
        raise StudyFileError(f"{path}: header line is not valid CSV ({exc})") from None
    rows, lines, prev = [], [], reader.line_num
    try:
        for cells in reader:
            start, prev = prev + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            if len(cells) != len(header):
                raise StudyFileError(f"{path}:{start}: row has {len(cells)} cells but the header has "
                                     f"{len(header)}; quote cells that contain commas")
            rows.append(dict(zip(header, cells)))
            lines.append(start)
    except csv.Error as exc:
        raise StudyFileError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    return header, rows, lines


def read_text_frame(path: str | Path = DEFAULT_CSV) -> pd.DataFrame:
    """The CSV exactly as text (every column str, '' for empty); no checks."""
    header, rows, _ = _read_raw(Path(path))
    return pd.DataFrame(rows, columns=header, dtype="str")


def load_studies(path: str | Path = DEFAULT_CSV, validate: bool = True,
                 codebook: Codebook | None = None) -> pd.DataFrame:
    """Studies as a typed frame: Int64 / Float64 numbers, str text, NaN for empty.

    With `validate=True` (default) any codebook problem raises
    `InvalidStudyError`; with False, unparsable numbers become missing.
    """
    cb = codebook or load_codebook()
    path = Path(path)
    if validate:
        problems = validate_csv(path, cb)
        if problems:
            raise InvalidStudyError(problems, context=f"{path} does not validate (run `review validate`)")
    text = read_text_frame(path)
    for col in cb.columns:
        if col not in text.columns:
            text[col] = ""
    extra = [c for c in text.columns if c not in cb.fields]
    return _typed(text[cb.columns + extra], cb)


def _typed(text: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    out = {}
    for col in text.columns:
        s = text[col].astype("str").str.strip().replace("", pd.NA)
        ftype = cb.fields[col].type if col in cb.fields else "str"
        if ftype in ("int", "float"):
            num = pd.to_numeric(s, errors="coerce").astype("Float64")
            if ftype == "int":
                num = num.where(num.isna() | (num % 1 == 0)).astype("Int64")
            out[col] = num
        else:
            out[col] = s.astype("str")
    return pd.DataFrame(out, index=range(len(text)))


# ---------------------------------------------------------------- validation
_INT = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse(f: Field, item: str) -> tuple[Any, str | None]:
    """(value, error message) of one item against the field's type."""
    if f.type == "int":
        if not _INT.match(item):
            return None, f"not an integer; allowed: {f.allowed()}"
        return int(item), None
    if f.type == "float":
        try:
            x = float(item)
        except ValueError:
            return None, f"not a number; allowed: {f.allowed()}"
        if not math.isfinite(x):
            return None, f"not a finite number; allowed: {f.allowed()}"
        return x, None
    if f.type == "date":
        try:
            if not _DATE.match(item):
                raise ValueError
            return dt.date.fromisoformat(item), None
        except ValueError:
            return None, "not a date; allowed: YYYY-MM-DD, e.g. 2026-11-23"
    if f.type == "url":
        u = urlparse(item)
        if u.scheme not in ("http", "https") or not u.netloc or any(c.isspace() for c in item):
            return None, "not a URL; allowed: http(s)://host/path (a DOI as https://doi.org/10...)"
    return item, None


def _check_item(f: Field, item: str) -> str | None:
    value, err = _parse(f, item)
    if err:
        return err
    if f.min is not None and value < f.min or f.max is not None and value > f.max:
        hint = " (a fraction: 89.3 % -> 0.893)" if f.max == 1 and 1 < value <= 100 else ""
        return f"out of range; allowed: {f.allowed()}{hint}"
    if f.pattern and not re.search(f.pattern, item):
        return f"does not match the pattern; allowed: {f.allowed()}"
    if f.vocabulary and item not in f.vocabulary:
        close = [v for v in f.vocabulary if v.casefold() == item.casefold()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"not in the vocabulary{hint}; allowed: {', '.join(f.vocabulary)}"
    return None


def check_cell(f: Field, text: str, sep: str = "; ") -> list[str]:
    """Messages for one cell's text ([] when valid)."""
    if text != text.strip():
        return ["leading or trailing whitespace; remove it"]
    if text == "":
        return [f"required field is empty; give {f.allowed()}"] if f.required else []
    items = [text]
    if f.multi:
        items = text.split(sep)
        if any(i == "" or i != i.strip() or ";" in i for i in items):
            return [f"bad multi-value encoding; join items with {sep!r} (semicolon + space), no empty items"]
        dup = sorted({i for i in items if items.count(i) > 1})
        if dup:
            return [f"duplicate items {dup} in a multi-valued cell; list each once"]
    return [m for m in (_check_item(f, i) for i in items) if m]


def validate_frame(df: pd.DataFrame, codebook: Codebook | None = None,
                   lines: list[int] | None = None, file: str | None = None) -> list[Problem]:
    """Every problem of a frame (text or typed) against the codebook."""
    cb = codebook or load_codebook()
    problems = [Problem(None, c, "", f"column missing from the header; expected columns: {', '.join(cb.columns)}",
                        1 if file else None, file) for c in cb.columns if c not in df.columns]
    problems += [Problem(None, c, "", "unknown column (not in the codebook); rename or remove it",
                         1 if file else None, file) for c in df.columns if c not in cb.fields]
    records = [{c: format_cell(v) for c, v in rec.items()} for rec in df.to_dict("records")]
    for i, rec in enumerate(records):
        line = lines[i] if lines else None
        for name, f in cb.fields.items():
            if name in rec:
                problems += [Problem(i + 1, name, rec[name], m, line, file)
                             for m in check_cell(f, rec[name], cb.list_separator)]
        problems += [Problem(i + 1, col, rec.get(col, ""), m, line, file)
                     for col, m in _consistency(cb, rec)]
    problems += _duplicates(records, lines, file)
    return sorted(problems, key=lambda p: (p.row or 0, cb.columns.index(p.column) if p.column in cb.fields else -1))


def _consistency(cb: Codebook, rec: dict[str, str]) -> list[tuple[str, str]]:
    found = []
    for name, rule in cb.consistency.items():
        when, then = rec.get(rule["if_field"], ""), rec.get(rule["then_field"], "")
        allowed = (rule.get("allowed") or {}).get(when)
        if when and then and allowed is not None and then not in allowed:
            found.append((rule["then_field"], f"inconsistent with {rule['if_field']}={when!r} (rule {name}); "
                                              f"allowed: {', '.join(allowed)}"))
    return found


def _duplicates(records: list[dict[str, str]], lines: list[int] | None, file: str | None) -> list[Problem]:
    problems, seen = [], {}
    for i, rec in enumerate(records):
        for column, key in _identity_keys(rec):
            if key in seen:
                first = seen[key]
                problems.append(Problem(i + 1, column, rec.get(column, ""),
                                        f"duplicate of row {first + 1} ({records[first].get('study_id', '')}); "
                                        "merge the two rows", lines[i] if lines else None, file))
            else:
                seen[key] = i
    return problems


def _identity_keys(rec: dict[str, str]) -> list[tuple[str, tuple]]:
    """Keys under which two rows are the same study."""
    keys = []
    if rec.get("study_id", ""):
        keys.append(("study_id", ("id", rec["study_id"])))
    if rec.get("doi", "").strip():
        keys.append(("doi", ("doi", rec["doi"].strip().casefold())))
    title = normalise_title(rec.get("title", ""))
    if title and rec.get("year", ""):
        keys.append(("title", ("title", title, rec["year"].strip())))
    return keys


def validate_csv(path: str | Path = DEFAULT_CSV, codebook: Codebook | None = None) -> list[Problem]:
    """Every problem of a CSV file, with file name and line numbers."""
    path = Path(path)
    header, rows, lines = _read_raw(path)
    if not header:
        return [Problem(None, "", "", "file is empty; expected a header row with the codebook's columns",
                        1, str(path))]
    frame = pd.DataFrame(rows, columns=header, dtype="str")
    return validate_frame(frame, codebook, lines=lines, file=str(path))


# ---------------------------------------------------------------- writing
def _lock(path: Path) -> FileLock:
    """The CSV's lock (`<csv>.lock`). One instance per file (re-entrant within a thread); other
    threads (the dashboard's sessions) and processes (`review add`, imports) wait for it."""
    target = path.resolve()  # a symlinked CSV and its target share one lock
    return FileLock(str(target.with_name(target.name + ".lock")), timeout=LOCK_TIMEOUT_S, is_singleton=True)


@contextmanager
def locked(path: str | Path) -> Iterator[Path]:
    """Hold the studies CSV's lock around a read-modify-write of your own.

    Every writer here (`append_study`, `rewrite_rows` behind import-bib / import-ris /
    import-xlsx, `write_studies` behind merge-coding) takes the same lock, and it is
    re-entrant: calling them inside this block is fine. Reading the CSV outside the
    lock and writing it back later loses concurrent adds.
    """
    path = Path(path)
    with _lock(path):
        yield path


def _write_rows(handle, columns: list[str], rows: Iterable[dict[str, str]]) -> None:
    writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)


def _replace_atomically(path: Path, write: Callable[[Any], None], newline: str | None = None,
                        binary: bool = False) -> None:
    """Write through `write(handle)` to a temp file in the same folder, fsync, then os.replace.

    Readers never see half a file; the file keeps its permissions (new files: 0644,
    not mkstemp's 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(fd, "wb") if binary else
              os.fdopen(fd, "w", encoding="utf-8", newline=newline)) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    _replace_atomically(path, lambda handle: _write_rows(handle, columns, rows), newline="")


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically (see `_replace_atomically`); return the path."""
    path = Path(path)
    _replace_atomically(path, lambda handle: handle.write(text), newline="\n")
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (see `_replace_atomically`); return the path."""
    path = Path(path)
    _replace_atomically(path, lambda handle: handle.write(data), binary=True)
    return path


def _text_record(record: dict[str, Any], cb: Codebook) -> dict[str, str]:
    unknown = [k for k in record if k not in cb.fields]
    if unknown:
        raise InvalidStudyError([Problem(None, k, format_cell(record[k]), "unknown field; allowed fields: "
                                         + ", ".join(cb.columns)) for k in unknown], context="new study")
    bad = [k for k, v in record.items() if isinstance(v, dict)
           or isinstance(v, (list, tuple)) and not (cb.fields[k].multi and all(isinstance(i, str) for i in v))]
    if bad:
        raise InvalidStudyError([Problem(None, k, format_cell(record[k]), "expected a single value (a list of "
                                         "strings only for multi-valued fields)") for k in bad], context="new study")
    record = {k: join_multi(v, cb.list_separator) if isinstance(v, (list, tuple)) else v for k, v in record.items()}
    rec = {c: format_cell(record.get(c)).strip() for c in cb.columns}
    if not rec["coded_on"]:
        rec["coded_on"] = dt.date.today().isoformat()
    return rec


def append_study(path: str | Path, record: dict[str, Any], codebook: Codebook | None = None) -> dict[str, str]:
    """Validate one study, refuse duplicates, append it atomically; returns the stored row.

    `coded_on` defaults to today. Raises InvalidStudyError, DuplicateStudyError
    or StudyFileError; the CSV is unchanged whenever an error is raised.
    """
    cb = codebook or load_codebook()
    path = Path(path)
    rec = _text_record(record, cb)
    problems = validate_frame(pd.DataFrame([rec], dtype="str"), cb)
    if problems:
        raise InvalidStudyError(problems, context="new study")
    with _lock(path):
        header, rows, _ = _read_raw(path) if path.exists() else ([], [], [])
        _check_header(path, header, cb)
        _refuse_duplicate(path, rows, rec)
        _atomic_write(path, cb.columns, [{c: r.get(c, "") for c in cb.columns} for r in rows] + [rec])
    return rec


def _check_header(path: Path, header: list[str], cb: Codebook) -> None:
    unknown = [c for c in header if c not in cb.fields]
    if unknown:
        raise StudyFileError(f"{path}: header has columns the codebook does not know: {unknown}; "
                             "fix the header before adding studies")


def _refuse_duplicate(path: Path, rows: list[dict[str, str]], rec: dict[str, str]) -> None:
    new_keys = dict((k, col) for col, k in _identity_keys(rec))
    for row in rows:
        for col, key in _identity_keys(row):
            if key in new_keys:
                what = {"study_id": "study_id", "doi": "DOI", "title": "title and year"}[col]
                raise DuplicateStudyError(f"{path}: same {what} as existing study {row.get('study_id')!r}; "
                                          "not added (edit the existing row instead)", row.get("study_id", ""))


def rewrite_rows(path: str | Path,
                 transform: Callable[[list[dict[str, str]]], tuple[list[dict[str, str]], set[int]]],
                 codebook: Codebook | None = None) -> list[dict[str, str]]:
    """Read-modify-write under the lock: `transform(rows) -> (new_rows, changed 0-based indices)`.

    The changed rows are validated (old problems elsewhere are left alone) and
    the file is replaced atomically; on any error nothing is written.
    """
    cb = codebook or load_codebook()
    path = Path(path)
    with _lock(path):
        header, rows, _ = _read_raw(path) if path.exists() else ([], [], [])
        _check_header(path, header, cb)
        rows = [{c: r.get(c, "") for c in cb.columns} for r in rows]
        new_rows, changed = transform([dict(r) for r in rows])
        if changed:
            frame = pd.DataFrame(new_rows, columns=cb.columns, dtype="str")
            problems = [p for p in validate_frame(frame, cb) if p.row is None or p.row - 1 in changed]
            if problems:
                raise InvalidStudyError(problems, context=f"not writing {path}")
            _atomic_write(path, cb.columns, new_rows)
    return new_rows


def write_studies(path: str | Path, df: pd.DataFrame, codebook: Codebook | None = None,
                  validate: bool = True) -> None:
    """Rewrite the whole CSV atomically (codebook column order), validating first."""
    cb = codebook or load_codebook()
    path = Path(path)
    unknown = [c for c in df.columns if c not in cb.fields]
    if unknown:
        raise StudyFileError(f"{path}: refusing to write columns the codebook does not know: {unknown}")
    rows = [{c: format_cell(rec.get(c)) for c in cb.columns} for rec in df.to_dict("records")]
    if validate:
        problems = validate_frame(pd.DataFrame(rows, columns=cb.columns, dtype="str"), cb)
        if problems:
            raise InvalidStudyError(problems, context=f"not writing {path}")
    with _lock(path):
        _atomic_write(path, cb.columns, rows)
