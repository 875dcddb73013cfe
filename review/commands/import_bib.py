"""`review import-bib FILE.bib [--csv PATH] [--source-url URL] [--dry-run] [--json]`.

Adds a skeleton row for every BibTeX entry not yet in the CSV, fills empty
bibliographic cells (doi, journal, authors) of studies already present, and
says why anything else was skipped (see `review.bibtex` for the rules and
how a skeleton's provenance fields are filled). One atomic write, under the
CSV's lock; `--dry-run` writes nothing.

Exit codes: 0 done (even if entries were skipped), 1 the resulting rows would
not validate (nothing written), 2 unreadable .bib or CSV.

JSON (`--json`)::

    {"bib": "refs.bib", "csv": "data/studies.csv", "dry_run": false,
     "added":   [{"key": "cheng2017", "line": 5, "study_id": "cheng2017", "notes": ""}],
     "merged":  [{"key": "x", "line": 12, "study_id": "shi2018", "fields": ["doi"]}],
     "skipped": [{"key": "dup", "line": 17, "reason": "duplicate BibTeX key 'dup'; ..."}]}

`line` is the entry's first line in the .bib file.
"""
from __future__ import annotations

import argparse
import json
import sys

from review.store import DEFAULT_CSV, InvalidStudyError, StudyError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bib", metavar="FILE.bib", help="BibTeX file to import")
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default data/studies.csv)")
    parser.add_argument("--source-url", default=None,
                        help="source_url for entries with neither doi nor url (e.g. where the .bib came from)")
    parser.add_argument("--dry-run", action="store_true", help="report what would happen, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from review.bibtex import import_bib  # bibtexparser only when this command runs

    try:
        report = import_bib(args.bib, args.csv, source_url=args.source_url, dry_run=args.dry_run)
    except InvalidStudyError as exc:
        print(f"review import-bib: {exc}", file=sys.stderr)
        return 1
    except (OSError, StudyError) as exc:
        print(f"review import-bib: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return 0
    verb = "would add" if args.dry_run else "added"
    print(f"{args.bib} -> {args.csv}: {verb} {len(report.added)}, merged {len(report.merged)}, "
          f"skipped {len(report.skipped)}")
    for item in report.added:
        print(f"  added   {item['key']} (line {item['line']}) as {item['study_id']}")
    for item in report.merged:
        print(f"  merged  {item['key']} (line {item['line']}) into {item['study_id']}: {', '.join(item['fields'])}")
    for item in report.skipped:
        print(f"  skipped {item['key'] or '?'} (line {item['line']}): {item['reason']}")
    return 0
