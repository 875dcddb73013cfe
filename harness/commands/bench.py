"""`harness bench [CONFIG.yaml] [--json] [--no-progress]`: naive vs cached, in one run.
`harness bench --profile [CONFIG.yaml] [--backbone NAME[@SIZE] ...] [--out PATH] [--json]`: step costs.
`harness bench --engine [--json]`: the engine micro-benchmarks alone (seconds).

Runs the same small sweep twice: naively (the frozen base's forward pass
recomputed every epoch, on the same prepared images) and with the activation
cache, then prints the speed ratio per strategy, each path's test metrics, and
the largest difference in any test metric and in any test score. The default
sweep starts from a MobileNet the bench first pretrains on a separate synthetic
cohort (timed apart), so the frozen features carry information.

JSON (`--json`)::

    {"rows": [{"backbone": "MobileNetV1-0.25", "strategy": "feature_extractor", "weights": "source:bench15",
               "naive_s": 53.8, "cached_s": 4.1, "speedup": 13.1, "max_metric_difference": 0.0,
               "max_score_difference": 0.0, "score_kind": "softmax probability",
               "test_metrics": {"naive": {"accuracy": 0.8, "auc_weighted": 0.9, ...}, "cached": {...}},
               "phases": {"naive": {...}, "cached": {...}}}, ...],
     "frozen_speedup": 12.2, "partial_speedup": 5.0, "max_metric_difference": 0.0, "max_score_difference": 0.0,
     "feature_extractor_auc_weighted": 0.9, "source_s": 40.0,
     "targets": {"frozen_speedup": 10.0, "partial_speedup": 3.0, "max_metric_difference": 0.01,
                 "feature_extractor_auc_weighted": 0.65},
     "targets_met": {"frozen_speedup": true, ...}, "note": "...", "config": {...}, "backend": "tensorflow",
     "device": "cpu: AMD EPYC", "versions": {...}, "machine": {...}, "load_average": [2.1, 2.0, 1.9],
     "head_steps_per_s": 150.0,
     "engine": {"head_steps_per_s": 150.0, "head": {"feature_dim": 256, "items": 2048, "batch_size": 32, "epochs": 5,
                                                   "repeats": 5, "steps": 320, "seconds": 1.3, ...},
                "engine_overhead": {"engine_s_per_step": 0.0013, "naive_s_per_step": 0.0012, "naive_over_engine": 0.9,
                                    "steps": 320, "batch_size": 32, "repeats": 5, "steps_per_execution": 1,
                                    "model": "..."},
                "backend": "tensorflow", "device": "...", "keras": "3.x",
                "load_average": {"before": [...], "after": [...]}}}

(values show the shape only). `engine` (also alone with `--engine`) times, after one untimed
epoch, the Ho & Kim dense head on random cached features through the engine
(`CompiledModel` + `fit_epochs`), and a near-zero-compute model (one Dense(3) on one feature)
both through the engine and in a plain Python loop of `model.train_on_batch` (the naive
baseline), best of five runs each, interleaved; `naive_over_engine` > 1 means the engine's
per-step overhead is below the naive loop's.

`--profile` measures this machine's step costs for the dry run's cost model in seconds
(random weights, tiny batches, a few timed calls): per backbone and input size, building the
base, its forward pass, a full training step and a last-block training step (each as
`overhead_s + per_image_s * batch`, plus its one-off tracing time), and machine-wide the
process start-up, the dense head's step, image preparation, synthetic data and
scikit-learn fits. Which backbones: `--backbone` (repeatable, `NAME@SIZE`), else those of
CONFIG at its input sizes, else every registry backbone at its native size (minutes on a
CPU). The profile is stored under `<cache_dir>/profiles/<machine key>.json` (merged with
earlier ones of this machine; cache_dir from CONFIG, default .harness/cache), where
`harness sweep --dry-run` finds it; `--out` writes a copy of the stored (merged) profile. JSON (`--profile --json`)::

    {"path": ".harness/cache/profiles/39505709f606.json", "seconds": 41.2,
     "profile": {"format": 1, "machine_key": "...", "machine": {"backend": "tensorflow", "accelerators": [],
                 "cpu": "...", "cpus": 2, "python": "3.11.7", "versions": {...}},
                 "measured_at": "...", "command": "...", "startup_s": 6.1,
                 "head": {"overhead_s": 0.0012, "per_image_s": 1e-05}, "head_trace_s": 0.9,
                 "prep_s_per_megapixel": 0.21, "synth_s_per_patient": 0.8, "svm_fit_s": 0.3, "rf_fit_s": 3.4,
                 "backbones": {"MobileNetV1-0.25@64": {"input_size": 64, "build_s": 1.1,
                               "forward": {...}, "forward_trace_s": 1.2, "train": {...}, "train_trace_s": 9.8,
                               "tail": {...}, "tail_trace_s": 1.6}, ...}}}
"""
from __future__ import annotations

import argparse
import json
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None,
                        help="sweep YAML to bench (default: a built-in small MobileNetV1 sweep)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--engine", action="store_true",
                        help="only the engine micro-benchmarks: dense-head steps/s and per-step overhead (seconds)")
    parser.add_argument("--profile", action="store_true",
                        help="measure this machine's step costs for `harness sweep --dry-run` (seconds)")
    parser.add_argument("--backbone", action="append", default=None, metavar="NAME[@SIZE]",
                        help="with --profile: a backbone (and input size) to measure; repeatable")
    parser.add_argument("--out", default=None, help="with --profile: also write the profile JSON here")


def run(args: argparse.Namespace) -> int:
    from harness.config import ConfigError, load_config

    try:
        config = load_config(args.config) if args.config else None
    except ConfigError as exc:
        print(f"harness bench: config error: {exc}", file=sys.stderr)
        return 2
    if args.profile:
        return _profile(args, config)
    if args.engine:
        if args.config or args.backbone or args.out:
            print("harness bench: --engine takes no CONFIG, --backbone or --out", file=sys.stderr)
            return 2
        return _engine(args)
    if args.backbone or args.out:
        print("harness bench: --backbone and --out go with --profile", file=sys.stderr)
        return 2
    from harness.bench import Bench

    result = Bench(config).run(progress=not args.no_progress)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    _print_engine(result["engine"])
    for r in result["rows"]:
        m = r["test_metrics"]["cached"]
        print(f"{r['backbone']:<18} {r['strategy']:<17} naive {r['naive_s']:8.2f}s  cached {r['cached_s']:7.2f}s  "
              f"x{r['speedup']:<6} max metric diff {r['max_metric_difference']:.2e}  "
              f"test accuracy {m['accuracy']:.3f}, weighted AUC {m['auc_weighted'] or float('nan'):.3f}")
    t = result["targets"]
    print(f"frozen_speedup {result['frozen_speedup']}x (target >= {t['frozen_speedup']:g}), partial_speedup "
          f"{result['partial_speedup']}x (target >= {t['partial_speedup']:g}), max_metric_difference "
          f"{result['max_metric_difference']:.2e} (target <= {t['max_metric_difference']:g}), max_score_difference "
          f"{result['max_score_difference']:.2e}, feature-extractor weighted AUC "
          f"{result['feature_extractor_auc_weighted']} (target >= {t['feature_extractor_auc_weighted']:g})  "
          f"[{result['backend']}, {result['device']}, load {result['load_average']}]")
    return 0


def _engine(args) -> int:
    from harness.bench import engine_bench

    result = engine_bench()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print_engine(result)
    return 0


def _print_engine(e: dict) -> None:
    o, h = e["engine_overhead"], e["head"]
    print(f"dense head on cached features: {e['head_steps_per_s']} steps/s (batch {h['batch_size']}, "
          f"{h['feature_dim']} features); per-step overhead: engine {o['engine_s_per_step'] * 1e3:.3f} ms, "
          f"naive train_on_batch loop {o['naive_s_per_step'] * 1e3:.3f} ms, naive/engine x{o['naive_over_engine']}  "
          f"[{e['backend']}, {e['device']}, load {e['load_average']['before']} -> {e['load_average']['after']}]")


def _profile(args, config) -> int:
    import time
    from pathlib import Path

    from harness.backbones import REGISTRY, get_backbone
    from harness.commands.paths import writable_file
    from harness.cost import save_profile
    from harness.data.dataset import atomic_write_bytes
    from harness.profile import measure

    try:
        pairs = [_pair(text, get_backbone) for text in args.backbone] if args.backbone else None
    except ValueError as exc:
        print(f"harness bench --profile: {exc}", file=sys.stderr)
        return 2
    batch = 16
    if pairs is None and config is not None:
        trials = config.trials()
        pairs = [(t.backbone, t.input_size or get_backbone(t.backbone).input_size) for t in trials]
        batch = max(t.training["batch_size"] for t in trials)
    if pairs is None:
        pairs = [(name, spec.input_size) for name, spec in REGISTRY.items()]
    cache_dir = config.cache_dir if config is not None else Path(".harness/cache")
    out = writable_file(args.out, "--out") if args.out else None
    t0 = time.perf_counter()
    command = "harness bench --profile" + (f" {args.config}" if args.config else "") + \
        "".join(f" --backbone {b}" for b in args.backbone or [])
    profile = measure(pairs, batch=batch, command=command, progress=not args.no_progress and not args.json)
    path = save_profile(profile, cache_dir)
    if out is not None:                     # the stored profile: this run merged with earlier ones of this machine
        atomic_write_bytes(out, path.read_bytes())
    seconds = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps({"path": str(path), "seconds": seconds, "profile": profile.to_dict()}, indent=2))
        return 0
    for key, c in profile.backbones.items():
        print(f"{key:<26} build {c.build_s:6.2f}s  forward {c.forward.overhead_s * 1e3:7.1f} ms + "
              f"{c.forward.per_image_s * 1e3:7.2f} ms/img  train {c.train.overhead_s * 1e3:7.1f} ms + "
              f"{c.train.per_image_s * 1e3:7.2f} ms/img  (tracing {c.train_trace_s:.1f}s)")
    print(f"start-up {profile.startup_s:.1f}s; profile of {profile.machine.get('cpu')} stored in {path} "
          f"({seconds}s); `harness sweep CONFIG --dry-run` now uses it")
    return 0


def _pair(text: str, get_backbone) -> tuple[str, int]:
    name, _, size = text.partition("@")
    spec = get_backbone(name)
    if size and not (size.isdigit() and int(size) >= 32):
        raise ValueError(f"--backbone {text!r}: the size after @ must be an integer >= 32")
    return spec.name, int(size) if size else spec.input_size
