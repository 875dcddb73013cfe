"""`harness sweep CONFIG.yaml [--dry-run] [--resume] [--store PATH] [--json] [--no-progress] [--executor ray ...]`.

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

`--executor ray` runs the trials as Ray tasks (`pip install -e ".[ray]"`): on a
local Ray instance it starts itself (127.0.0.1 only, no dashboard, stopped when the
command ends), or with `--address auto|HOST:PORT` on a running Ray cluster. Each
trial gets `--gpus-per-trial` GPUs (a fraction such as 0.25 packs four trials on one
GPU; default 1 when the cluster has GPUs, else 0) and `--cpus-per-trial` CPUs; a
trial whose worker dies is retried `--max-retries` times, then recorded as failed;
at most `--max-in-flight` trials are submitted at once (default: as many as the
cluster fits). Only this command writes the store (docs/harness.md, "Sweeps on a
Ray cluster"). Without `--executor` the config's `isolation` decides: trials run in
this process (`session`) or each in a fresh process (`process`).

Ctrl-C stops the running trials (Ray: cancels its tasks and stops a local instance
it started); every finished trial stays recorded and `--resume` runs the rest.

Exit codes: 0 all trials done, 1 some trial failed (recorded with its error),
2 bad config, data or store, an executor that cannot start (Ray not installed,
no cluster at --address, resources no node has; nothing run), or finished trials
present without `--resume`; 130 interrupted (Ctrl-C).

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
    ray = parser.add_argument_group("distributed (Ray)")
    ray.add_argument("--executor", choices=("embedded", "ray"), default="embedded",
                     help="where trials run: embedded (this machine, per the config's isolation; default) "
                          "or ray (Ray tasks; needs the ray extra)")
    ray.add_argument("--address", default=None, metavar="auto|HOST:PORT",
                     help="Ray cluster to join (default: start a local instance for this command)")
    ray.add_argument("--gpus-per-trial", type=float, default=None, metavar="G",
                     help="GPUs per trial, e.g. 0.25 packs four on a GPU (default 1 if the cluster has GPUs, else 0)")
    ray.add_argument("--cpus-per-trial", type=float, default=1.0, metavar="C", help="CPUs per trial (default 1)")
    ray.add_argument("--max-retries", type=int, default=2, metavar="N",
                     help="retries of a trial whose worker died before it is recorded as failed (default 2)")
    ray.add_argument("--max-in-flight", type=int, default=None, metavar="K",
                     help="trials submitted at once (default: as many as the cluster runs at a time)")


def run(args: argparse.Namespace) -> int:
    from harness.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"harness sweep: config error: {exc}", file=sys.stderr)
        return 2
    from harness.executors import ExecutorError
    from harness.results import StoreError
    from harness.sweep import Sweep, SweepError

    try:
        executor = _executor(args)
    except ExecutorError as exc:
        print(f"harness sweep: {exc}", file=sys.stderr)
        return 2
    sweep = Sweep(cfg, store_path=args.store, resume=args.resume, progress=not args.no_progress, executor=executor)
    try:
        if args.dry_run:
            return _dry_run(sweep, args.json)
        summary = sweep.run()
    except (SweepError, StoreError, ExecutorError) as exc:
        print(f"harness sweep: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"harness sweep: interrupted; every finished trial is recorded in {sweep.store_path}: "
              "run the same command with --resume to run the rest", file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=2) if args.json else
          f"{summary['ran']} trial(s) run, {summary['skipped_done']} already done, {summary['failed']} failed; "
          f"results in {summary['store']} (see `harness results --store {summary['store']}`)")
    return 1 if summary["failed"] else 0


def _executor(args: argparse.Namespace):
    """None (the config's embedded isolation) or a RayExecutor; ExecutorError for bad options or no Ray."""
    ray_only = {"--address": args.address, "--gpus-per-trial": args.gpus_per_trial,
                "--max-in-flight": args.max_in_flight}
    if args.executor != "ray":
        given = [flag for flag, value in ray_only.items() if value is not None]
        if given:
            from harness.executors import ExecutorError

            raise ExecutorError(f"{', '.join(given)} only apply with --executor ray")
        return None
    if args.dry_run:
        return None                              # a dry run plans only; it needs no cluster
    from harness.executors import ray_executor

    return ray_executor(address=args.address, gpus_per_trial=args.gpus_per_trial, cpus_per_trial=args.cpus_per_trial,
                        max_retries=args.max_retries, max_in_flight=args.max_in_flight)


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
