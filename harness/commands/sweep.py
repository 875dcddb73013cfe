"""`harness sweep CONFIG.yaml [--dry-run] [--resume] [--store PATH] [--json] [--no-progress]`.

Runs every trial of the config's grid (backbones x strategies x weights x
learning rates x data sizes x seeds) and records one row per finished trial in
the results store (default `runs/<name>/results.sqlite`). Before the first trial
it checks the config completely (every key and value), every data spec (from
metadata: folder, layout, classes, enough patients for the split and the folds)
and the store path. A store that already holds finished trials of the sweep
needs `--resume` (finished trials are skipped, never rerun).

`--dry-run` lists the trials, their images and an estimated time, and touches no
data beyond metadata and writes nothing (seconds for any preset). Estimates come
from done trials of the same kind in the store, else from the cost model with
this machine's profile (`harness bench --profile`), else with the built-in
default table; the output says which machine and profile it assumed
(docs/harness.md, "Dry run and cost model").

Exit codes: 0 all trials done, 1 some trial failed (recorded with its error),
2 bad config, data or store (nothing run), or finished trials present without
`--resume`.

JSON (`--json`)::

    {"store": "runs/quick/results.sqlite", "trials": 8, "skipped_done": 0, "ran": 8, "failed": 0}

With `--dry-run --json`::

    {"config": "configs/quick.yaml", "store": "...", "to_run": 8, "already_done": 0,
     "estimated_total_s": 231.4, "seconds": 0.4,
     "assumed": {"machine": "CPU (2 cores: ...); Keras 3.15.1 on tensorflow",
                 "profile": ".harness/cache/profiles/39505709f606.json" | "default table (cost_defaults.json)",
                 "measured_at": "...", "measured_on": "...", "note": null | "no profile of this machine: ..."},
     "one_off": [{"what": "1 process start-up(s) (Python + Keras)", "seconds": 9.9},
                 {"what": "generate synthetic:3T?patients=16&seed=0 (16 patients at 96 px)", "seconds": 3.7},
                 {"what": "train source synth15 for MobileNetV1-0.25@64 (766 images, 12 epochs)", "seconds": 64.4,
                  "phases": {...}}],
     "trials": [{"trial_id": "574e09ea653051d8", "backbone": "MobileNetV1-0.25",
                 "strategy": "feature_extractor", "weights": "source:synth15", "input_size": 64,
                 "train_patients": null, "seed": 0,
                 "images": {"all": 464, "train": 232, "test": 232, "train_oversampled": 464,
                            "train_patients": 8, "test_patients": 8},
                 "estimated_s": 6.9, "estimate": "profile" | "default table" | "measured in this store" | "unknown",
                 "phases": {"build": 0.8, "cache_fill": 2.1, "training": 3.9, "test": 0.1}, "note": ""}, ...]}
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
    from harness.dryrun import dry_run

    out = dry_run(sweep)
    if as_json:
        print(json.dumps(out, indent=2))
        return 0
    for p in out["trials"]:
        est = "?" if p["estimated_s"] is None else f"~{p['estimated_s']}s"
        images = p["images"]["all"] if p["images"] else "?"
        print(f"{p['trial_id']}  {p['backbone']:<18} {p['strategy']:<17} {p['weights']:<16} size={p['input_size']} "
              f"n={p['train_patients']} seed={p['seed']} images={images}  {est} ({p['estimate']})")
    for item in out["one_off"]:
        print(f"once: {item['what']}  ~{item['seconds']}s")
    a = out["assumed"]
    print(f"{out['to_run']} to run, {out['already_done']} already done; estimated {out['estimated_total_s'] / 60:.1f} min "
          f"on {a['machine']} from {a['profile']}" + (f"\nnote: {a['note']}" if a["note"] else ""))
    return 0
