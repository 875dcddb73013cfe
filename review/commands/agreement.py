"""`review agreement [--coding DIR] [--json]`: inter-coder agreement of the coding passes.

Reads `DIR/pass_a/*.json` and `DIR/pass_b/*.json` (default `data/coding`,
format in `data/coding/MANUAL.md`) and every later round `DIR/roundN/`;
rules in `review.agreement`. The top level is rounds 1-2; `rounds` has one
entry per later round (only the fields that round coded, same item shapes,
plus "round", "folder", "pass_a_only", "pass_b_only", "one_pass_compared": the one-pass studies
compared because the other pass has a routes.csv row for them); `overall` (null
without later rounds) compares the passes' final values, same shape as the
top level.

JSON (`--json`)::

    {"coding": "data/coding", "n_pass_a": 118, "n_pass_b": 118, "n_both": 118, "n_both_included": 101,
     "included":    {"kappa": 0.81, "agreement": 0.95, "n": 118, "n_included_a": 104, "n_included_b": 103},
     "categorical": [{"field": "tl_type", "kappa": 0.62, "agreement": 0.74, "n": 101, "n_both_stated": 80}],
     "numeric":     [{"field": "auc", "tolerance": 0.0005, "n_either": 40, "n_both": 35, "n_match": 31,
                      "exact_share": 0.775}],
     "sets":        [{"field": "backbone_models", "n_either": 95, "n_both": 90, "n_match": 70,
                      "exact_share": 0.737}],
     "rounds":      [{"round": 3, "folder": "data/coding/round3", "n_pass_a": 60, "n_pass_b": 60, "n_both": 60,
                      "pass_a_only": [], "pass_b_only": [], "one_pass_compared": [], "categorical": [...],
                      "numeric": [...], "sets": [...]}],
     "overall":     {"description": "...", "n_pass_a": 118, ..., "categorical": [...], "numeric": [...], "sets": [...]}}

(numbers above show the shape only). `kappa` is null when undefined (a single
category in both passes, or no studies).
"""
from __future__ import annotations

import argparse
import json
import sys

from review.agreement import DEFAULT_CODING, CodingError, agreement


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--coding", default=str(DEFAULT_CODING),
                        help="folder with pass_a/, pass_b/ (default data/coding)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        report = agreement(args.coding)
    except CodingError as exc:
        print(f"review agreement: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"{args.coding}: pass a {report.n_pass_a} studies, pass b {report.n_pass_b}, both {report.n_both}, "
          f"included by both {report.n_both_included}")
    inc = report.included
    print("rounds 1-2")
    print(f"included            kappa {_f(inc['kappa'])}  agreement {_f(inc['agreement'])}  n {inc['n']}")
    _print_fields(report.to_dict())
    for rnd in report.rounds:
        print(f"round {rnd['round']} ({rnd['folder']}): pass a {rnd['n_pass_a']} studies, pass b {rnd['n_pass_b']}, "
              f"both {rnd['n_both']}; per field, the studies where either pass coded it")
        compared = set(rnd["one_pass_compared"])
        for side in ("a", "b"):
            other = "b" if side == "a" else "a"
            shown = [r for r in rnd[f"pass_{side}_only"] if r in compared]
            rest = [r for r in rnd[f"pass_{side}_only"] if r not in compared]
            if shown:
                print(f"  in pass {side} only, compared (pass {other} tried them, routes.csv): "
                      f"{', '.join(map(str, shown))}")
            if rest:
                print(f"  in pass {side} only (not compared): {', '.join(map(str, rest))}")
        _print_fields(rnd)
    if report.overall:
        print("overall (final values of both passes, all rounds)")
        _print_fields(report.overall)
    return 0


def _print_fields(part: dict) -> None:
    for item in part["categorical"]:
        print(f"{item['field']:<19} kappa {_f(item['kappa'])}  agreement {_f(item['agreement'])}  n {item['n']}")
    for item in part["sets"] + part["numeric"]:
        tol = f"  tolerance {item['tolerance']}" if "tolerance" in item else "  (same set of names)"
        print(f"{item['field']:<19} exact {_f(item['exact_share'])}  {item['n_match']}/{item['n_either']}{tol}")


def _f(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.3f}"
