"""`review report --out DIR`: every figure (PNG + SVG) and a Markdown report.

    review report --out DIR [--csv PATH] [--counts FILE] [--published PATH]
                  [--bootstrap N] [--seed S] [--json]

Writes DIR/prisma, figure4, figure5, figure6 (.png and .svg), DIR/audit.csv and
DIR/report.md, which links the figures, gives the PRISMA checks, the Figure 4-6
tables, the Spearman results and the audit, and records the CSV's SHA-256,
the bootstrap seed and the software versions. Shows a progress bar on stderr.
Exit 0, 2 when an input cannot be read.

JSON (`--json`)::

    {"out": "report", "report": "report/report.md",
     "files": ["report/prisma.png", "report/prisma.svg", ..., "report/report.md"],
     "failed_prisma_checks": 1, "published_inconsistencies": 6}
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from review.prisma import DEFAULT_COUNTS, CountsError
from review.published import DEFAULT_PUBLISHED, PublishedError, load_published
from review.store import DEFAULT_CSV, StudyError, load_studies


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for figures and report.md")
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default %(default)s)")
    parser.add_argument("--counts", default=str(DEFAULT_COUNTS), help="PRISMA counts (default %(default)s)")
    parser.add_argument("--published", default=str(DEFAULT_PUBLISHED),
                        help="published numbers (default %(default)s)")
    parser.add_argument("--bootstrap", type=int, default=2000, metavar="N",
                        help="bootstrap resamples for the Spearman CIs (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def _unwritable(out: str) -> str | None:
    """Why the --out folder cannot be made, checked before any work (None when it can)."""
    path = Path(out)
    if path.exists():
        return None if path.is_dir() else "exists and is not a folder"
    parent = next((p for p in path.parents if p.exists()), Path("."))
    if not parent.is_dir():
        return f"cannot be created: {parent} is a file"
    return None if os.access(parent, os.W_OK) else f"cannot be created: {parent} is not writable"


def run(args: argparse.Namespace) -> int:
    from review.report import build_report

    problem = _unwritable(args.out)
    if problem:
        print(f"review report: --out {args.out}: {problem}", file=sys.stderr)
        return 2
    try:
        df = load_studies(args.csv)
        published = load_published(args.published)
        result = build_report(df, args.out, args.csv, counts_path=args.counts, published=published,
                              n_boot=args.bootstrap, seed=args.seed, progress=not args.json)
    except (StudyError, PublishedError, CountsError) as exc:
        print(f"review report: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"out": str(result.out_dir), "report": str(result.report),
                          "files": [str(p) for p in result.files],
                          "failed_prisma_checks": result.failed_checks,
                          "published_inconsistencies": result.inconsistencies}, indent=2))
    else:
        print(f"report: {result.report} ({len(result.files)} files in {result.out_dir})")
        if result.failed_checks:
            print(f"  {result.failed_checks} PRISMA check(s) fail; see the report's PRISMA section")
        print(f"  {result.inconsistencies} inconsistency(ies) among the published numbers")
    return 0
