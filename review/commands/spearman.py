"""`review spearman`: Figure 6, normalised data size vs AUC and accuracy (Spearman).

    review spearman [--csv PATH] [--bootstrap N] [--seed S] [--ci 0.95] [--figure PATH] [--json]

Applies the review's selection (one backbone model, one TL type, one
modality: multiple-model, multiple-TL and minor-model studies excluded, in that
order), normalises data quantity per class (patients for CT, MRI and
microscopy, images otherwise), and reports Spearman r and p for size vs AUC
and vs accuracy with percentile bootstrap CIs (N resamples of the studies,
numpy Generator seeded with S: same seed, same CI). `--figure PATH` writes
the 2 x 2 scatter figure as PATH.png and PATH.svg. Exit 2 when the CSV cannot
be read or does not validate.

JSON (`--json`)::

    {"csv": "data/studies.csv", "n_rows": 121, "subset_n": 41,
     "excluded": {"multiple models": 57, "multiple TL types": 14, "minor model": 9, ...},
     "excluded_studies": [{"study_id": "rahaman2020", "reason": "multiple models"}, ...],
     "both_metrics": 11,
     "results": {"auc": {"metric": "auc", "n": 30, "r": 0.05, "p": 0.79, "ci_low": -0.3,
                         "ci_high": 0.4, "ci_level": 0.95, "n_boot": 2000, "seed": 0},
                 "accuracy": {...}},
     "points": [{"study_id": "...", "metric": "auc", "size": 250.0, "value": 0.91,
                 "modality": "CT", "tl_type": "feature extractor", "backbone_family": "Inception"}, ...],
     "figure": ["out/figure6.png", "out/figure6.svg"]}

r, p and the CI bounds are null when fewer than 3 points (or a constant axis) leave them undefined.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from review.store import DEFAULT_CSV, StudyError, load_studies


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default %(default)s)")
    parser.add_argument("--bootstrap", type=int, default=2000, metavar="N",
                        help="bootstrap resamples for the CIs; 0 = none (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    parser.add_argument("--ci", type=float, default=0.95, help="CI level (default %(default)s)")
    parser.add_argument("--figure", metavar="PATH", help="write the scatter figure to PATH.png/.svg")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from review.spearman import analyse

    if args.bootstrap < 0 or not 0 < args.ci < 1:
        print("review spearman: --bootstrap must be >= 0 and --ci between 0 and 1", file=sys.stderr)
        return 2
    try:
        df = load_studies(args.csv)
    except StudyError as exc:
        print(f"review spearman: {exc}", file=sys.stderr)
        return 2
    analysis = analyse(df, n_boot=args.bootstrap, seed=args.seed, level=args.ci)
    written = []
    if args.figure:
        from review.plotting import save_figure
        from review.spearman import figure

        written = [str(p) for p in save_figure(figure(analysis), args.figure)]
    doc = to_json(analysis, str(args.csv), len(df))
    doc["figure"] = written
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"{args.csv}: {len(df)} studies; Figure 6 subset: {doc['subset_n']}")
    print("excluded: " + ", ".join(f"{k} {v}" for k, v in doc["excluded"].items() if v))
    for res in doc["results"].values():
        print(_line(res))
    print(f"studies with both metrics: {doc['both_metrics']}")
    for p in written:
        print(f"figure: {p}")
    return 0


def _line(res: dict) -> str:
    if res["r"] is None:
        return f"{res['metric']}: n = {res['n']}, too few points for a correlation"
    ci = "" if res["ci_low"] is None else (
        f", {res['ci_level']:.0%} bootstrap CI [{res['ci_low']:.3f}, {res['ci_high']:.3f}] "
        f"({res['n_boot']} resamples, seed {res['seed']})")
    return f"{res['metric']}: n = {res['n']}, Spearman r = {res['r']:.3f}, p = {res['p']:.3g}{ci}"


def to_json(analysis, csv: str, n_rows: int) -> dict:
    points = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
              for rec in analysis.points.to_dict("records")]
    return {"csv": csv, "n_rows": n_rows, "subset_n": int(len(analysis.subset)),
            "excluded": analysis.excluded_counts(),
            "excluded_studies": analysis.excluded.to_dict("records"),
            "both_metrics": analysis.both_metrics(),
            "results": {m: r.to_dict() for m, r in analysis.results.items()},
            "points": points}
