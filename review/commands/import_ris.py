"""`review import-ris FILE [--csv PATH] [--source-url URL] [--dry-run] [--json]`: RIS / PubMed import.

Reads a RIS export (Web of Science, Scopus, reference managers; byte-order
mark, CRLF and banner lines tolerated) or PubMed's MEDLINE export (.nbib,
recognised by its `PMID- ` lines) and, like `review import-bib`, adds a
skeleton row for every record not yet in the CSV, fills empty bibliographic
cells (doi, journal, authors) of studies already present (same DOI, or same
normalised title and year), and says why anything else was skipped (same
study earlier in the file, missing title / year / author, no DOI or URL to
serve as source_url, a record without its `ER  -` end tag). Skeleton rows get
coded_by "import-ris" and confidence "low". One atomic write under the CSV's
lock; `--dry-run` writes nothing.

Exit codes: 0 done (even if records were skipped), 1 the resulting rows would
not validate (nothing written), 2 unreadable file or CSV.

JSON (`--json`)::

    {"ris": "savedrecs.ris", "csv": "data/studies.csv", "dry_run": false,
     "added":   [{"key": "WOS:000398097700012", "line": 1, "study_id": "cheng2017", "notes": ""}],
     "merged":  [{"key": "PMID 35418051", "line": 1, "study_id": "kim2022", "fields": ["doi"]}],
     "skipped": [{"key": "record 3", "line": 28, "reason": "same study as entry 'record 2' earlier in the file"}]}

`key` is the record's ID or AN tag (WOS:..., PMID ...), else "record N";
`line` is the record's first line in the file.
"""
from __future__ import annotations

import argparse
import json
import sys

from review.store import DEFAULT_CSV, InvalidStudyError, StudyError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ris", metavar="FILE", help="RIS (.ris, .txt) or PubMed MEDLINE (.nbib) file")
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default data/studies.csv)")
    parser.add_argument("--source-url", default=None,
                        help="source_url for records with neither DOI nor URL (e.g. where the file came from)")
    parser.add_argument("--dry-run", action="store_true", help="report what would happen, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from review.ris import RisError, import_ris

    try:
        report = import_ris(args.ris, args.csv, source_url=args.source_url, dry_run=args.dry_run)
    except InvalidStudyError as exc:
        print(f"review import-ris: {exc}", file=sys.stderr)
        return 1
    except (OSError, StudyError, RisError) as exc:
        print(f"review import-ris: {exc}", file=sys.stderr)
        return 2
    doc = report.to_dict()
    doc = {"ris": doc.pop("bib"), **doc}
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    verb = "would add" if args.dry_run else "added"
    print(f"{args.ris} -> {args.csv}: {verb} {len(report.added)}, merged {len(report.merged)}, "
          f"skipped {len(report.skipped)}")
    for item in report.added:
        print(f"  added   {item['key']} (line {item['line']}) as {item['study_id']}")
    for item in report.merged:
        print(f"  merged  {item['key']} (line {item['line']}) into {item['study_id']}: {', '.join(item['fields'])}")
    for item in report.skipped:
        print(f"  skipped {item['key'] or '?'} (line {item['line']}): {item['reason']}")
    return 0
