"""`review prisma`: the PRISMA 2020 flow diagram and its arithmetic checks.

    review prisma [--counts FILE] [--figure PATH] [--csv PATH] [--strict] [--json]

`--counts` takes the project's counts file (default ``data/prisma.csv``, the
PRISMA2020 R package / Shiny app template format), any CSV exported from that
app (its ``data`` and ``n`` columns; exclusion reasons as
``"Reason, n; Reason, n"``) or a YAML/JSON mapping ``{data_name: n}``.
`--figure PATH` writes the diagram as PATH.png, PATH.svg and PATH.pdf; it
shows the "previous studies" and "other methods" arms when the counts file has
numbers for them. Rows in `--csv`
are compared with the included count. Exit 0, or 1 with `--strict` when a
check fails, 2 when an input cannot be read.

JSON (`--json`)::

    {"counts_file": "data/prisma.csv", "csv": "data/studies.csv", "n_rows": 121,
     "counts": {"database_results": 467, "duplicates": 42, ..., "dbr_sought_reports": null},
     "reasons": {"dbr_excluded": [["Wrong task", 60], ...]},
     "checks": [{"name": "assessed - excluded = included", "expected": 122, "actual": 121,
                 "ok": false, "detail": "236 - 114 = 122; included: 121"}, ...],
     "failed": 1, "figure": ["out/prisma.png", "out/prisma.svg", "out/prisma.pdf"]}

`ok` is null for a check skipped because a count is not reported;
`expected` is what the earlier counts imply, `actual` the count given.
"""
from __future__ import annotations

import argparse
import json
import sys

from review.prisma import (DEFAULT_COUNTS, FIGURE_FORMATS, CountsError, check_counts, describe, draw, failed,
                           load_counts)
from review.store import DEFAULT_CSV, StudyError, read_text_frame


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--counts", default=str(DEFAULT_COUNTS),
                        help="PRISMA2020 template CSV or YAML/JSON counts (default %(default)s)")
    parser.add_argument("--csv", default=str(DEFAULT_CSV),
                        help="studies CSV whose rows must equal the included count (default %(default)s)")
    parser.add_argument("--no-csv", action="store_true", help="skip the included = CSV rows check")
    parser.add_argument("--figure", metavar="PATH", help="write the diagram to PATH.png, PATH.svg and PATH.pdf")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any check fails")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        counts = load_counts(args.counts)
        n_rows = None if args.no_csv else len(read_text_frame(args.csv))
    except (CountsError, StudyError, OSError) as exc:
        print(f"review prisma: {exc}", file=sys.stderr)
        return 2
    checks = check_counts(counts, n_rows)
    bad = failed(checks)
    written = []
    if args.figure:
        from review.plotting import save_figure

        written = [str(p) for p in save_figure(draw(counts, checks=checks), args.figure, formats=FIGURE_FORMATS)]
    if args.json:
        doc = {"counts_file": str(args.counts), "csv": None if args.no_csv else str(args.csv),
               "n_rows": n_rows, **{k: v for k, v in counts.to_dict().items() if k != "source"},
               "checks": [c.to_dict() for c in checks], "failed": len(bad), "figure": written}
        doc["counts"] = doc.pop("values")
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(f"PRISMA counts: {args.counts}")
        for c in checks:
            print(describe(c))
        if bad:
            print(f"{len(bad)} check(s) FAILED; these counts do not add up:")
            for c in bad:
                d = c.to_dict()
                print(f"  {c.name}: expected {d['expected']}, found {d['actual']} ({c.detail})")
        else:
            skipped = sum(c.ok is None for c in checks)
            print("all checks pass" if not skipped else
                  f"no check fails; {skipped} skipped because counts are not reported")
        for p in written:
            print(f"figure: {p}")
    return 1 if (args.strict and bad) else 0
