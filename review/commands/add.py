"""`review add [--csv PATH] [--from-json FILE|-] [--<column> VALUE ...] [--json]`: append one study.

Values come from `--from-json` (an object keyed by the CSV's column names;
`-` reads stdin) and/or one flag per column (`--study-id`, `--title`,
`--backbone-models "VGG16; ResNet50"`, ...); flags override the JSON.
`coded_on` defaults to today. The row is validated against the codebook,
refused when it duplicates a study (same study_id, DOI case-insensitive, or
normalised title + year) and written atomically under a file lock.

Exit codes: 0 added, 1 invalid or duplicate (nothing written), 2 unreadable input.

JSON (`--json`)::

    {"added": true, "study_id": "cheng2017", "csv": "data/studies.csv", "row": {<column>: "<text>"}}
    {"added": false, "error": "invalid" | "duplicate" | "file", "message": "...",
     "problems": [<Problem as in `review validate --json`>], "existing_id": "..."}
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from review.codebook import load_codebook
from review.store import (DEFAULT_CSV, DuplicateStudyError, InvalidStudyError, StudyError,
                          append_study)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default data/studies.csv)")
    parser.add_argument("--from-json", metavar="FILE", help="JSON object keyed by column name ('-' = stdin)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    cols = parser.add_argument_group("columns (see `review codebook`)")
    for f in load_codebook().fields.values():
        cols.add_argument("--" + f.name.replace("_", "-"), dest="col_" + f.name, metavar="VALUE",
                          help=f.allowed() + (" [required]" if f.required else ""))


def _record(args: argparse.Namespace) -> dict:
    record: dict = {}
    if args.from_json:
        text = sys.stdin.read() if args.from_json == "-" else Path(args.from_json).read_text(encoding="utf-8")
        record = json.loads(text)
        if not isinstance(record, dict):
            raise ValueError(f"{args.from_json}: expected a JSON object keyed by column name")
    for key, value in vars(args).items():
        if key.startswith("col_") and value is not None:
            record[key[4:]] = value
    return record


def run(args: argparse.Namespace) -> int:
    try:
        record = _record(args)
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        return _fail(args, "file", f"cannot read the study: {exc}", code=2)
    try:
        row = append_study(args.csv, record)
    except InvalidStudyError as exc:
        return _fail(args, "invalid", str(exc), problems=[p.to_dict() for p in exc.problems])
    except DuplicateStudyError as exc:
        return _fail(args, "duplicate", str(exc), existing_id=exc.existing_id)
    except StudyError as exc:
        return _fail(args, "file", str(exc), code=2)
    if args.json:
        print(json.dumps({"added": True, "study_id": row["study_id"], "csv": str(args.csv), "row": row},
                         indent=2, ensure_ascii=False))
    else:
        print(f"added {row['study_id']} to {args.csv}")
    return 0


def _fail(args: argparse.Namespace, kind: str, message: str, code: int = 1, **extra) -> int:
    if args.json:
        print(json.dumps({"added": False, "error": kind, "message": message, **extra}, indent=2,
                         ensure_ascii=False))
    else:
        print(f"review add: {message}", file=sys.stderr)
    return code
