"""`review validate [CSV] [--csv PATH] [--json]`: check a studies CSV against the codebook.

Exit 0 when valid, 1 when there are problems (one line each, naming file:line,
row, column, value and what is allowed), 2 when the file cannot be read.

JSON (`--json`)::

    {"csv": "data/studies.csv", "rows": 118, "valid": true,
     "problems": [{"row": 3, "line": 4, "file": "...", "column": "year",
                   "value": "20x7", "message": "not an integer; allowed: ..."}]}

`row` is the 1-based data row (null for header problems), `line` the CSV line.
"""
from __future__ import annotations

import argparse
import json
import sys

from review.store import DEFAULT_CSV, StudyFileError, read_text_frame, validate_csv


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv_pos", nargs="?", metavar="CSV", help="studies CSV (same as --csv)")
    parser.add_argument("--csv", default=None, help=f"studies CSV (default {DEFAULT_CSV})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    path = args.csv_pos or args.csv or DEFAULT_CSV
    try:
        problems = validate_csv(path)
        n_rows = len(read_text_frame(path))
    except StudyFileError as exc:
        print(f"review validate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder, an unreadable file: name it, no traceback
        print(f"review validate: {path}: cannot be read as a studies CSV ({exc.strerror or exc})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"csv": str(path), "rows": n_rows, "valid": not problems,
                          "problems": [p.to_dict() for p in problems]}, indent=2, ensure_ascii=False))
    else:
        for p in problems:
            print(p)
        print(f"{path}: {n_rows} rows, " + (f"{len(problems)} problem(s)" if problems else "valid"),
              file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0
