"""`review merge-coding [--coding DIR] [--csv PATH] [--dry-run] [--json]`.

Rebuilds the studies CSV from the resolved coding (`data/coding/resolved/`,
else passes that agree), keeping each study's `review_statement` and the
values the review itself states where the study's source is silent (rules in
`review.merge`). The write is atomic and validated.

JSON (`--json`)::

    {"csv": "data/studies.csv", "coding": "data/coding", "rows_before": 118, "rows_after": 117,
     "from_coding": 117, "kept_unchanged": [], "dropped": [{"ref_number": 59, "reason": "excluded ..."}],
     "unresolved": [{"ref_number": 3, "reason": "passes disagree on accuracy; ..."}],
     "review_values_kept": 12, "round_values_applied": 80,
     "round_studies_not_applied": [{"round": 3, "ref_number": 150, "reason": "coded in pass a of the round only; ..."}],
     "problems": [], "written": true}
"""
from __future__ import annotations

import argparse
import json

from review.agreement import DEFAULT_CODING, CodingError
from review.store import DEFAULT_CSV, StudyError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--coding", default=str(DEFAULT_CODING), help="coding folder (default data/coding)")
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV to rebuild (default data/studies.csv)")
    parser.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from review.merge import merge_coding

    try:
        _, report = merge_coding(args.csv, args.coding, write=not args.dry_run)
    except (CodingError, StudyError) as exc:
        print(f"review merge-coding: {exc}")
        return 1
    data = report.to_dict() | {"written": not args.dry_run}
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0 if not report.problems else 1
    verb = "would write" if args.dry_run else "wrote"
    print(f"{verb} {report.rows_after} rows to {report.csv} ({report.from_coding} from the coding, "
          f"{len(report.kept_unchanged)} kept unchanged; before: {report.rows_before})")
    print(f"values kept from the review's own text where the source was silent: {report.review_values_kept}")
    print(f"values applied from later coding rounds (round3/, ...): {report.round_values_applied}")
    for d in report.round_studies_not_applied:
        print(f"  round {d['round']} not applied, ref {d['ref_number']}: {d['reason']}")
    for d in report.dropped:
        print(f"  dropped ref {d['ref_number']}: {d['reason']}")
    for d in report.unresolved:
        print(f"  kept unchanged, ref {d['ref_number']}: {d['reason']}")
    for p in report.problems:
        print(f"  problem: row {p.get('row')} {p.get('column')}={p.get('value')!r}: {p.get('message')}")
    return 0 if not report.problems else 1
