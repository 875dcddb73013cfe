"""`review spearman`: Figure 6, normalised data size vs AUC and accuracy (Spearman).

    review spearman [--csv PATH] [--selection review|all] [--bootstrap N] [--seed S] [--ci 0.95]
                    [--figure PATH] [--json]

`--selection review` (default) applies the review's rule: one backbone model,
one TL type, one modality; excluded studies are counted under their first
reason in the order backbone not coded, multiple models, minor model, TL type
not coded, multiple TL types, modality not coded, multiple modalities, TL
combined with other features (metric_scope). `--selection all` keeps every
study with a data size and the metric (a multi-model study contributes its
best reported value, as coded); excluded in order: metric_scope "TL combined
with other features", no AUC or accuracy, no data quantity, no n_classes. Data quantity is normalised per class (patients for CT,
MRI and microscopy, images otherwise). Spearman r for size vs AUC and vs
accuracy from 3 points; from 5 points also p and a percentile bootstrap CI (N
resamples of the studies, numpy Generator seeded with S: same seed, same CI);
with 3 or 4 points r is shown and p and the CI are not ("too few studies").
`--figure PATH` writes the 2 x 2 scatter figure as PATH.png and PATH.svg.
Exit 2 when the CSV cannot be read or does not validate.

JSON (`--json`)::

    {"csv": "data/studies.csv", "n_rows": 121, "selection": "review", "subset_n": 41,
     "excluded": {"multiple models": 57, "minor model": 9, "multiple TL types": 14, ...},
     "excluded_studies": [{"study_id": "rahaman2020", "reason": "multiple models"}, ...],
     "both_metrics": 11,
     "results": {"auc": {"metric": "auc", "n": 30, "r": 0.05, "p": 0.79, "ci_low": -0.3,
                         "ci_high": 0.4, "ci_level": 0.95, "n_boot": 2000, "seed": 0,
                         "selection": "review", "note": ""},
                 "accuracy": {"metric": "accuracy", "n": 4, "r": 0.8, "p": null, "ci_low": null, ...,
                              "note": "too few studies (n = 4 < 5): r only, no p and no interval"}},
     "points": [{"study_id": "...", "metric": "auc", "size": 250.0, "value": 0.91,
                 "modality": "CT", "tl_type": "feature extractor", "backbone_family": "Inception"}, ...],
     "figure": ["out/figure6.png", "out/figure6.svg"]}

r is null below 3 points (or with a constant axis), p and the CI bounds below 5 points.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from review.store import DEFAULT_CSV, StudyError, load_studies


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default %(default)s)")
    parser.add_argument("--selection", choices=("review", "all"), default="review",
                        help="review: the paper's one-model/one-TL/one-modality rule; all: every study "
                             "with a data size and the metric (default %(default)s)")
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
    analysis = analyse(df, n_boot=args.bootstrap, seed=args.seed, level=args.ci, selection=args.selection)
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
    print(f"{args.csv}: {len(df)} studies; selection {args.selection!r} keeps {doc['subset_n']}")
    print("excluded: " + ", ".join(f"{k} {v}" for k, v in doc["excluded"].items() if v))
    for res in doc["results"].values():
        print(_line(res))
    print(f"studies with both metrics: {doc['both_metrics']}")
    for p in written:
        print(f"figure: {p}")
    return 0


def _line(res: dict) -> str:
    if res["r"] is None:
        return f"{res['metric']}: n = {res['n']}, {res['note'] or 'no correlation'}"
    p = "" if res["p"] is None else f", p = {res['p']:.3g}"
    ci = "" if res["ci_low"] is None else (
        f", {res['ci_level']:.0%} bootstrap CI [{res['ci_low']:.3f}, {res['ci_high']:.3f}] "
        f"({res['n_boot']} resamples, seed {res['seed']})")
    note = f" ({res['note']})" if res["note"] else ""
    return f"{res['metric']}: n = {res['n']}, Spearman r = {res['r']:.3f}{p}{ci}{note}"


def to_json(analysis, csv: str, n_rows: int) -> dict:
    points = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
              for rec in analysis.points.to_dict("records")]
    return {"csv": csv, "n_rows": n_rows, "selection": analysis.selection, "subset_n": int(len(analysis.subset)),
            "excluded": analysis.excluded_counts(),
            "excluded_studies": analysis.excluded.to_dict("records"),
            "both_metrics": analysis.both_metrics(),
            "results": {m: r.to_dict() for m, r in analysis.results.items()},
            "points": points}
