"""`review audit`: every published number next to the value recomputed from the CSV.

    review audit [--csv PATH] [--published PATH] [--strict] [--json]

For each number in ``data/published.yaml``: published value, value recomputed
from the studies CSV, difference (recomputed - published), coverage (rows that
had the needed field out of the rows considered) and status (match / differs /
incomplete / no data / not recomputable; incomplete = different while some rows
are not coded yet). Then the published numbers' own
inconsistencies: PRISMA arithmetic (236 - 114 = 122, not 121), the "other"
backbone count (7) against the Figure 6 "minor models" count (9), Spearman p
values that r and n <= 41 cannot produce (with the p they imply), Table 1's
arithmetic. Exit 0; with `--strict` 1 when any published number differs or
any inconsistency is found; 2 when an input cannot be read.

JSON (`--json`)::

    {"csv": "data/studies.csv", "rows": 121,
     "numbers": [{"key": "backbone.multiple", "label": "...", "where": "Results, ...",
                  "published": 57, "recomputed": 55, "difference": -2,
                  "coverage_n": 118, "coverage_of": 121, "status": "differs"}, ...],
     "summary": {"match": 12, "differs": 1, "incomplete": 4, "no data": 4, "not recomputable": 8},
     "inconsistencies": [{"name": "PRISMA: assessed - excluded = included", "expected": 122,
                          "actual": 121, "ok": false, "detail": "236 - 114 = 122; included: 121"}, ...]}

`recomputed` and `difference` are null when not recomputable or no row has the data.
"""
from __future__ import annotations

import argparse
import json
import sys

from review.published import DEFAULT_PUBLISHED, PublishedError, load_published
from review.store import DEFAULT_CSV, StudyError, load_studies


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default %(default)s)")
    parser.add_argument("--published", default=str(DEFAULT_PUBLISHED),
                        help="published numbers (default %(default)s)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a number differs or the published numbers are inconsistent")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from review.audit import audit, inconsistencies, to_json

    try:
        df = load_studies(args.csv)
        published = load_published(args.published)
    except (StudyError, PublishedError) as exc:
        print(f"review audit: {exc}", file=sys.stderr)
        return 2
    table = audit(df, published)
    checks = inconsistencies(published)
    doc = to_json(df, table, checks, str(args.csv))
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_text(doc)
    bad = doc["summary"]["differs"] or any(c["ok"] is False for c in doc["inconsistencies"])
    return 1 if (args.strict and bad) else 0


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _print_text(doc: dict) -> None:
    print(f"{doc['csv']}: {doc['rows']} rows")
    print(f"{'key':34} {'published':>9} {'CSV':>9} {'diff':>8} {'coverage':>9}  status")
    for r in doc["numbers"]:
        cov = f"{r['coverage_n']}/{r['coverage_of']}"
        print(f"{r['key']:34} {_fmt(r['published']):>9} {_fmt(r['recomputed']):>9} "
              f"{_fmt(r['difference']):>8} {cov:>9}  {r['status']}")
    print("summary: " + ", ".join(f"{k} {v}" for k, v in doc["summary"].items()))
    bad = [c for c in doc["inconsistencies"] if c["ok"] is False]
    print(f"\nThe published numbers checked against each other: {len(bad)} inconsistency(ies)")
    for c in doc["inconsistencies"]:
        mark = "OK  " if c["ok"] else "FLAG"
        print(f"{mark} {c['name']}: {c['detail']}")
