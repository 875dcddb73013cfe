"""`review export-bib [--csv PATH] [--out FILE.bib] [--json]`: the CSV's bibliography as BibTeX.

JSON (`--json`): {"csv": "data/studies.csv", "out": "data/references.bib", "entries": 117}
"""
from __future__ import annotations

import argparse
import json

from review.store import DEFAULT_CSV, StudyError


def configure(parser: argparse.ArgumentParser) -> None:
    from review.export_bib import DEFAULT_BIB

    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default data/studies.csv)")
    parser.add_argument("--out", default=str(DEFAULT_BIB), help="BibTeX file to write (default data/references.bib)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from review.export_bib import export_bib

    try:
        n = export_bib(args.csv, args.out)
    except StudyError as exc:
        print(f"review export-bib: {exc}")
        return 1
    if args.json:
        print(json.dumps({"csv": args.csv, "out": args.out, "entries": n}))
    else:
        print(f"wrote {n} entries to {args.out}")
    return 0
