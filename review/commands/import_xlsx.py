"""`review import-xlsx FILE.xlsx [--csv PATH] [--dry-run] [--json]`: bring back a filled-in studies sheet.

Reads the "studies" sheet (or the first sheet) of a workbook made by
`review export --format xlsx` (or any sheet whose header row holds CSV
column names, study_id included). Rows are matched to the CSV by study_id:
cells that differ replace the CSV's, new study_ids are added (coded_on
defaults to today), studies missing from the sheet are kept. The export's
formula guard (a leading `'`) is removed exactly, so export -> edit one cell
-> import changes exactly that cell. Changed and added rows are validated
like `review add` (codebook, consistency, duplicates); formula cells are
refused. One atomic write under the CSV's lock; `--dry-run` writes nothing.

Exit codes: 0 imported (or nothing to change), 1 a row does not validate
(nothing written; each problem names the sheet row and column), 2 unreadable
workbook or CSV.

JSON (`--json`)::

    {"xlsx": "studies.xlsx", "csv": "data/studies.csv", "dry_run": false,
     "changed": [{"study_id": "shi2018", "sheet_row": 2, "fields": ["n_test"]}],
     "added": [{"study_id": "new2024", "sheet_row": 119}],
     "unchanged": 116, "not_in_sheet": []}
"""
from __future__ import annotations

import argparse
import json
import sys

from review.store import DEFAULT_CSV, InvalidStudyError, StudyError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("xlsx", metavar="FILE.xlsx", help="workbook to import")
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default data/studies.csv)")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from review.xlsx import import_xlsx

    try:
        report = import_xlsx(args.xlsx, args.csv, dry_run=args.dry_run)
    except InvalidStudyError as exc:
        _fail(args, "invalid", str(exc), [p.to_dict() for p in exc.problems])
        return 1
    except (StudyError, OSError) as exc:
        _fail(args, "file", str(exc), [])
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return 0
    verb = "would change" if args.dry_run else "changed"
    print(f"{args.xlsx} -> {args.csv}: {verb} {len(report.changed)} studies, added {len(report.added)}, "
          f"{report.unchanged} unchanged, {len(report.not_in_sheet)} not in the sheet (kept)")
    for item in report.changed:
        print(f"  changed {item['study_id']} (sheet row {item['sheet_row']}): {', '.join(item['fields'])}")
    for item in report.added:
        print(f"  added   {item['study_id']} (sheet row {item['sheet_row']})")
    return 0


def _fail(args: argparse.Namespace, kind: str, message: str, problems: list) -> None:
    if args.json:
        print(json.dumps({"imported": False, "error": kind, "message": message, "problems": problems},
                         indent=2, ensure_ascii=False))
    else:
        print(f"review import-xlsx: {message}", file=sys.stderr)
