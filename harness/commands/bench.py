"""`harness bench [CONFIG.yaml] [--json] [--no-progress]`: naive vs cached, in one run.

Runs the same small sweep twice: naively (the frozen base's forward pass
recomputed every epoch, on the same prepared images) and with the activation
cache, then prints the speed ratio per strategy and the largest difference in
any test metric and in any predicted probability.

JSON (`--json`)::

    {"rows": [{"backbone": "MobileNetV1-0.25", "strategy": "feature_extractor", "naive_s": 53.8,
               "cached_s": 6.96, "speedup": 7.74, "max_metric_difference": 0.0,
               "max_probability_difference": 0.0, "accuracy_naive": 0.26, "accuracy_cached": 0.26}, ...],
     "frozen_speedup": 8.17, "partial_speedup": 5.15, "max_metric_difference": 0.0,
     "max_probability_difference": 0.0, "targets": {"frozen": 10, "partial": 3}, "note": "...",
     "config": {...}, "backend": "tensorflow", "device": "cpu", "versions": {...}, "machine": {...}}

(values show the shape only).
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


def run(args: argparse.Namespace) -> int:
    from harness.bench import Bench
    from harness.config import ConfigError, load_config

    try:
        config = load_config(args.config) if args.config else None
    except ConfigError as exc:
        print(f"harness bench: config error: {exc}", file=sys.stderr)
        return 2
    result = Bench(config).run(progress=not args.no_progress)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    for r in result["rows"]:
        print(f"{r['backbone']:<18} {r['strategy']:<17} naive {r['naive_s']:8.2f}s  cached {r['cached_s']:7.2f}s  "
              f"x{r['speedup']:<6} max metric diff {r['max_metric_difference']:.2e}")
    print(f"frozen_speedup {result['frozen_speedup']}x (target >= 10), partial_speedup {result['partial_speedup']}x "
          f"(target >= 3), max_metric_difference {result['max_metric_difference']:.2e}, "
          f"max_probability_difference {result['max_probability_difference']:.2e}  [{result['backend']}, {result['device']}]")
    return 0
