"""`harness results [--json|--csv] [--store PATH] [--failed]`: list and export finished trials.

Default output is a table; `--csv` one tidy row per trial with the columns
trial_id, sweep, status, backbone, strategy, weights, weights_label, seed,
train_patients, f1_OAP, f1_IN, f1_OBS, accuracy, auc_macro, auc_weighted
(the class-frequency-weighted one-vs-rest AUC that Ho & Kim call "micro"),
soft_accuracy, n_test, selected, selected_epochs, total_s, train_images_per_s,
peak_rss_mb, trainable_params, total_params, backend, device, machine, error.

JSON (`--json`): a list of full rows::

    [{"trial_id": "...", "sweep": "quick", "status": "done", "backbone": "...", "strategy": "...",
      "weights": "source:synth15", "weights_label": "... not ImageNet", "seed": 0, "train_patients": 8,
      "config": {<the trial's full configuration>},
      "metrics": {"dataset": "...", "data_fingerprint": "...", "params": {...}, "selection": {...},
                  "test": {"accuracy": ..., "auc_macro": ..., "auc_weighted": ..., "soft_accuracy": ...,
                           "per_class": {...}, "confusion": [[...]]}},
      "timings": {...}, "versions": {...}, "backend": "tensorflow", "device": "cpu", "machine": {...}}, ...]
"""
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
        from review.spreadsheet import neutralise  # the one formula-injection guard (issue 15)
        frame.map(neutralise).to_csv(sys.stdout, index=False)
        return 0
    if frame.empty:
        print(f"{path}: no finished trials yet")
        return 0
    cols = ["backbone", "strategy", "weights", "train_patients", "seed", "f1_OAP", "f1_IN", "f1_OBS",
            "accuracy", "auc_weighted", "soft_accuracy", "total_s"]
    print(frame[cols].round(3).to_string(index=False))
    return 0
