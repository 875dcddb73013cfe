"""`harness results [--json|--csv] [--store PATH] [--failed]`: list and export finished trials.

Reads the store without writing to it (safe while a sweep is filling it). Default output is
a table of finished trials, followed, when the store has pretrained and `none` trials of
one backbone and strategy over two or more seeds, by the transfer effect (mean ± sd per
weights, the gap and the seed spread: `harness.results.transfer`); `--failed` adds the failed ones, each with the last line of its
error (the full traceback is in `--json` and `--csv`). `--csv` writes one tidy row per
trial with the columns of `harness.results.schema.TRIAL_COLUMNS`:
trial_id, sweep, status, backbone, strategy, weights, weights_label, dataset,
train_patients, seed, input_size, accuracy, auc_macro, auc_weighted (the
class-frequency-weighted one-vs-rest AUC that Ho & Kim call "micro"), soft_accuracy,
f1_OAP, f1_IN, f1_OBS, auc_OAP, auc_IN, auc_OBS (one-vs-rest; empty when the class is
absent from the test set), n_test, score_kind (what the AUCs ranked: softmax probabilities,
SVM decision values, forest probabilities), confusion (JSON, rows = true class), selected,
selected_epochs, wall_time_s, train_images_per_s, test_images_per_s, peak_memory_mb,
trainable_params, total_params, images_per_s_<phase> and share_of_reference_<phase> for
the phases cache_fill, head_training, fine_tuning and test, precision, backend, device,
machine, versions, data_fingerprint, started_at, finished_at, error, config (JSON).
Cells a spreadsheet would run as a formula (leading =, +, -, @, tab, CR; not plain
numbers) get a leading quote (`review.spreadsheet.neutralise`, in harness/results/export.py).

Exit codes: 0 listed (also when the store holds no finished trial yet), 2 no store, or a
file that is not a results store (the message names it).

JSON (`--json`): a list of full rows::

    [{"trial_id": "...", "sweep": "quick", "status": "done", "backbone": "...", "strategy": "...",
      "weights": "source:synth15", "weights_label": "... not ImageNet", "seed": 0, "train_patients": 8,
      "config": {<the trial's full configuration>},
      "metrics": {"dataset": "...", "data_fingerprint": "...", "params": {...}, "selection": {...},
                  "test": {"accuracy": ..., "auc_macro": ..., "auc_weighted": ..., "soft_accuracy": ...,
                           "per_class": {...}, "confusion": [[...]]}},
      "timings": {...}, "versions": {...}, "backend": "tensorflow", "device": "cpu", "machine": {...},
      "error": null | "<traceback of a failed trial>"}, ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TABLE_COLUMNS = ["backbone", "strategy", "weights", "train_patients", "seed", "f1_OAP", "f1_IN", "f1_OBS",
                 "accuracy", "auc_weighted", "soft_accuracy", "wall_time_s"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=None, help="results database (default: the only runs/*/results.sqlite)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="full rows (config, metrics, timings, versions) as JSON")
    fmt.add_argument("--csv", action="store_true", help="one tidy CSV row per trial")
    parser.add_argument("--failed", action="store_true", help="include failed trials, with their errors")


def _default_store() -> Path | None:
    found = sorted(Path("runs").glob("*/results.sqlite"))
    return found[0] if len(found) == 1 else None


def run(args: argparse.Namespace) -> int:
    from harness.results import ResultStore, StoreError

    path = Path(args.store) if args.store else _default_store()
    if path is None:
        print("harness results: no results store found; give --store PATH (runs/<sweep name>/results.sqlite)",
              file=sys.stderr)
        return 2
    store = ResultStore(path)
    status = None if args.failed else "done"
    try:
        if args.json:
            print(json.dumps(store.rows(status), indent=2, default=str))
            return 0
        frame = store.frame(status)
    except StoreError as exc:
        print(f"harness results: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        from harness.results.export import write_csv

        write_csv(frame, sys.stdout)
        return 0
    return _print_table(path, frame)


def _print_table(path: Path, frame) -> int:
    from harness.results import error_summary

    done = frame[frame["status"] == "done"]
    failed = frame[frame["status"] != "done"]
    if done.empty:
        print(f"{path}: no finished trials yet")
    else:
        print(done[TABLE_COLUMNS].round(3).to_string(index=False))
        _print_transfer(done)
    if len(failed):
        print(f"\n{len(failed)} failed trial(s) (full tracebacks: --json or --csv):")
        for _, r in failed.iterrows():
            print(f"  {r['trial_id']}  {r['backbone']} {r['strategy']} {r['weights']} seed={r['seed']}: "
                  f"{error_summary(r['error']) or 'no error recorded'}")
    return 0


def _print_transfer(done) -> None:
    """Pretrained against `none` per backbone and strategy, when both ran over two or more seeds."""
    from harness.results.transfer import transfer_effect

    for metric in ("auc_weighted", "accuracy"):
        effect = transfer_effect(done, metric)
        if effect.empty:
            return
        print(f"\ntransfer effect on {metric} (mean ± sd over seeds; spread = the larger sd; "
              "separated = the worst pretrained seed above the best none seed):")
        for _, r in effect.iterrows():
            print(f"  {r['backbone']} {r['strategy']} ({r['train_patients']} patients): "
                  f"{r['weights']} {r['mean']:.3f} ± {r['sd']:.3f} (n {r['n_seeds']}) vs none "
                  f"{r['none_mean']:.3f} ± {r['none_sd']:.3f} (n {r['none_n_seeds']}): gap {r['gap']:+.3f}, "
                  f"spread {r['spread']:.3f} -> {'clear' if r['clear'] else 'not clear'}, "
                  f"{'separated' if r['separated'] else 'not separated'}")
