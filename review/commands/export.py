"""`review export --format csv|xlsx|ris|bib --out FILE [--csv PATH] [--json]`: the studies in other formats.

- `csv`: the studies CSV with every cell a spreadsheet would run as a formula
  (leading `=`, `+`, `-`, `@`, tab, carriage return; plain numbers excepted)
  prefixed with `'` (OWASP's CSV-injection guard, `review.spreadsheet`);
- `xlsx`: sheet "studies" (numbers as numbers, text guarded the same way) and
  sheet "codebook" (types and allowed values); fill it in a spreadsheet and
  bring it back with `review import-xlsx`;
- `ris`: one RIS record per study (TY JOUR, AU, TI, T2, PY, DO, UR, ID = study_id);
- `bib`: BibTeX, as `review export-bib`.

The CSV must validate first. Written atomically. Exit 0, 2 when the CSV
cannot be read or does not validate.

JSON (`--json`): {"csv": "data/studies.csv", "out": "studies.xlsx", "format": "xlsx", "studies": 117}
"""
from __future__ import annotations

import argparse
import json
import sys

from review.store import DEFAULT_CSV, StudyError


def configure(parser: argparse.ArgumentParser) -> None:
    from review.export import FORMATS

    parser.add_argument("--format", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write")
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default data/studies.csv)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from review.export import export_studies

    try:
        n = export_studies(args.csv, args.out, args.format)
    except (StudyError, OSError) as exc:
        print(f"review export: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"csv": args.csv, "out": args.out, "format": args.format, "studies": n}))
    else:
        print(f"wrote {n} studies to {args.out} ({args.format})")
    return 0
