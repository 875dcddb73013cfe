"""`harness results [--json|--csv] [--store PATH]`: list and export finished trials."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=None, help="results database (default: the only runs/*/results.sqlite)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="full rows (config, metrics, timings, versions) as JSON")
    fmt.add_argument("--csv", action="store_true", help="one tidy CSV row per trial")
    parser.add_argument("--failed", action="store_true", help="include failed trials")


def _default_store() -> Path | None:
    found = sorted(Path("runs").glob("*/results.sqlite"))
    return found[0] if len(found) == 1 else None


def run(args: argparse.Namespace) -> int:
    from harness.store import ResultStore

    path = Path(args.store) if args.store else _default_store()
    if path is None or not path.exists():
        print(f"harness results: no results store {'at ' + str(path) if path else 'found'}; "
              "give --store PATH (runs/<sweep name>/results.sqlite)", file=sys.stderr)
        return 2
    store = ResultStore(path)
    if args.json:
        rows = store.rows(None if args.failed else "done")
        print(json.dumps(rows, indent=2, default=str))
        return 0
    frame = store.frame()
    if not args.failed and len(frame):
        frame = frame[frame["status"] == "done"]
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
        return 0
    if frame.empty:
        print(f"{path}: no finished trials yet")
        return 0
    cols = ["backbone", "strategy", "weights", "train_patients", "seed", "f1_OAP", "f1_IN", "f1_OBS",
            "accuracy", "auc_weighted", "soft_accuracy", "total_s"]
    print(frame[cols].round(3).to_string(index=False))
    return 0
