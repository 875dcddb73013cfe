"""`harness sweep CONFIG.yaml [--dry-run] [--resume] [--store PATH] [--json] [--no-progress]`.

Runs every trial of the config's grid (backbones x strategies x weights x
learning rates x data sizes x seeds) and records one row per finished trial in
the results store (default `runs/<name>/results.sqlite`). The config is checked
completely before any training. A store that already holds finished trials of
the sweep needs `--resume` (finished trials are skipped, never rerun).

Exit codes: 0 all trials done, 1 some trial failed (recorded with its error),
2 config error, or finished trials present without `--resume`.

JSON (`--json`)::

    {"store": "runs/quick/results.sqlite", "trials": 8, "skipped_done": 0, "ran": 8, "failed": 0}

With `--dry-run --json`::

    {"config": "configs/quick.yaml", "store": "...", "to_run": 8, "already_done": 0,
     "estimated_total_s": 542.1,
     "trials": [{"trial_id": "4657532fb1a93931", "backbone": "MobileNetV1-0.25",
                 "strategy": "feature_extractor", "weights": "source:synth15", "input_size": 64,
                 "train_patients": null, "seed": 0, "estimated_s": 0.4,
                 "estimate": "heuristic" | "measured"}, ...]}
"""
from __future__ import annotations

import argparse
import json
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="sweep YAML, e.g. configs/quick.yaml")
    parser.add_argument("--dry-run", action="store_true", help="list the trials and an estimated time, train nothing")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep, skipping finished trials")
    parser.add_argument("--store", default=None, help="results database (default runs/<name>/results.sqlite)")
    parser.add_argument("--json", action="store_true", help="print the summary (or the dry-run plan) as JSON")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from harness.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"harness sweep: config error: {exc}", file=sys.stderr)
        return 2
    from harness.results import StoreError
    from harness.sweep import Sweep, SweepError

    sweep = Sweep(cfg, store_path=args.store, resume=args.resume, progress=not args.no_progress)
    try:
        if args.dry_run:
            return _dry_run(sweep, args.json)
        summary = sweep.run()
    except (SweepError, StoreError) as exc:
        print(f"harness sweep: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2) if args.json else
          f"{summary['ran']} trial(s) run, {summary['skipped_done']} already done, {summary['failed']} failed; "
          f"results in {summary['store']} (see `harness results --store {summary['store']}`)")
    return 1 if summary["failed"] else 0


def _dry_run(sweep, as_json: bool) -> int:
    from harness.results import ResultStore
    from harness.sweep import estimate_seconds, load_trial_data, split_patients

    todo, done = sweep.plan()
    todo = [t.to_dict() for t in todo]
    observed = {}
    if sweep.store_path.exists():
        for row in ResultStore(sweep.store_path).rows("done"):
            key = (row["backbone"], row["strategy"], row["config"].get("input_size"))
            observed.setdefault(key, []).append(row["timings"]["total_s"])
    plan, total = [], 0.0
    for trial in todo:
        key = (trial["backbone"], trial["strategy"], trial["input_size"])
        if key in observed:
            est, how = sum(observed[key]) / len(observed[key]), "measured"
        else:
            dataset = load_trial_data(trial, sweep.cache_dir)
            train, _ = split_patients(dataset, trial)
            n = int(dataset.table["patient"].astype(str).isin(set(train)).sum())
            est, how = estimate_seconds(trial, n), "heuristic"
        total += est
        plan.append({"trial_id": trial["trial_id"], "backbone": trial["backbone"], "strategy": trial["strategy"],
                     "weights": trial["weights"], "input_size": trial["input_size"],
                     "train_patients": trial["train_patients"], "seed": trial["seed"],
                     "estimated_s": round(est, 1), "estimate": how})
    out = {"config": str(sweep.config.path), "store": str(sweep.store_path), "to_run": len(todo),
           "already_done": len(done), "estimated_total_s": round(total, 1), "trials": plan}
    if as_json:
        print(json.dumps(out, indent=2))
        return 0
    for p in plan:
        print(f"{p['trial_id']}  {p['backbone']:<18} {p['strategy']:<17} {p['weights']:<16} size={p['input_size']} "
              f"n={p['train_patients']} seed={p['seed']}  ~{p['estimated_s']}s ({p['estimate']})")
    print(f"{len(todo)} to run, {len(done)} already done; estimated {total / 60:.1f} min "
          "(heuristic estimates are order-of-magnitude)")
    return 0
