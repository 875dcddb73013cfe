"""`review meta`: random-effects meta-analysis and meta-regression of accuracy or AUC.

    review meta [--csv PATH] --metric accuracy|auc [--moderators TERM,...] [--method reml|dl]
                [--figure PATH] [--json]

Pools the metric on the logit scale across the studies that report it with
`n_test` (the test-set size behind it). Sampling variances: accuracy,
binomial 1 / (n_test p (1 - p)); AUC, Hanley & McNeil (1982) **assuming the
test set is split evenly between the two classes** (n_test / 2 each), carried
to the logit scale by the delta method. A value of exactly 0 or 1 gets the
continuity correction (p n + 0.5) / (n + 1). tau^2 by REML (default, Fisher
scoring as in metafor) or DerSimonian-Laird; coefficients from statsmodels
weighted least squares with weights 1 / (v + tau^2), z tests.

Moderators (comma-separated) turn the model into a mixed-effects
meta-regression: `log10_images` (log10 of n_images), `year`, and the
categorical `tl_type`, `backbone_category`, `modality` (reference level = the
most frequent one; each other level is a term `name[level]`). Studies
without the metric, without n_test, without a moderator, or whose metric is
that of a "TL combined with other features" model (metric_scope) are
excluded and listed with the reason.

`--figure PATH` writes PATH-forest.{png,svg} (studies, pooled diamond,
prediction interval) and PATH-funnel.{png,svg} (with Egger's regression test).
Exit 0 when a model was fitted, 1 when too few studies remain (the result is
still printed, with null numbers), 2 when the CSV cannot be read or an option
is invalid.

JSON (`--json`)::

    {"metric": "accuracy", "method": "reml", "k": 12,
     "excluded": [{"study_id": "shi2018", "reason": "no accuracy"}, ...],
     "pooled": {"estimate": 0.91, "ci_low": 0.87, "ci_high": 0.94},
     "tau2": 0.85, "i2": 93.1,
     "coefficients": [{"term": "intercept", "estimate": 2.3, "se": 0.3, "ci_low": 1.7,
                       "ci_high": 2.9, "p": 1e-12},
                      {"term": "log10_images", ...}, {"term": "tl_type[fine-tuning]", ...}]}

(numbers show the shape only). `pooled` is the intercept-only random-effects
estimate on the metric's own scale over the k studies; `tau2` (logit scale)
and `i2` (percent) are those of the fitted model (residual heterogeneity when
moderators are given); coefficients are on the logit scale, the intercept's
term is `intercept`. Numbers are null when too few studies remain.
"""
from __future__ import annotations

import argparse
import json
import sys

from review.store import DEFAULT_CSV, StudyError, load_studies


def configure(parser: argparse.ArgumentParser) -> None:
    from review.meta.dataset import METRICS, MODERATORS

    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default %(default)s)")
    parser.add_argument("--metric", required=True, choices=METRICS, help="metric to pool")
    parser.add_argument("--moderators", default="", metavar="TERM,...",
                        help=f"meta-regression terms, comma-separated: {', '.join(MODERATORS)}")
    parser.add_argument("--method", default="reml", choices=("reml", "dl"),
                        help="tau^2 estimator (default %(default)s)")
    parser.add_argument("--figure", metavar="PATH", help="write PATH-forest and PATH-funnel (.png, .svg)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from review.meta import MetaError, meta_analysis

    moderators = [m.strip() for m in args.moderators.split(",") if m.strip()]
    try:
        df = load_studies(args.csv)
        result = meta_analysis(df, args.metric, moderators, args.method)
    except (StudyError, MetaError) as exc:
        print(f"review meta: {exc}", file=sys.stderr)
        return 2
    written = []
    if args.figure and result.model is not None:
        from review.meta.plots import save_plots

        written = [str(p) for p in save_plots(result, args.figure)]
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_text(result, written)
    return 0 if result.model is not None else 1


def _print_text(result, written: list[str]) -> None:
    print(f"{result.metric}: k = {result.k} studies pooled on the logit scale ({result.method.upper()}); "
          f"{len(result.excluded)} excluded")
    print(f"  {result.assumption}")
    if result.model is None:
        print(f"  {result.message}")
    else:
        p = result.pooled
        print(f"  pooled {result.metric}: {p['estimate']:.4f} [{p['ci_low']:.4f}, {p['ci_high']:.4f}]; "
              f"prediction interval [{result.prediction[0]:.4f}, {result.prediction[1]:.4f}]")
        kind = "residual " if result.moderators else ""
        print(f"  {kind}tau^2 = {result.tau2:.4g}, I^2 = {result.i2:.1f}%, Q = {result.model.q:.2f} "
              f"(df {result.model.q_df}, p = {result.model.q_p:.3g})")
        for name, level in result.reference_levels.items():
            print(f"  reference level of {name}: {level}")
        print(f"  {'term':32} {'estimate':>9} {'SE':>8} {'95% CI':>20} {'p':>9}")
        for c in result.coefficients:
            print(f"  {c.term:32} {c.estimate:9.4f} {c.se:8.4f} [{c.ci_low:8.4f}, {c.ci_high:8.4f}] {c.p:9.3g}")
        if result.egger is not None:
            e = result.egger
            print(f"  Egger's test: intercept {e.intercept:.3f} (SE {e.se:.3f}), t = {e.t:.2f}, df {e.df}, "
                  f"p = {e.p:.3g}")
    reasons: dict[str, int] = {}
    for item in result.excluded:
        reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
    for reason, n in reasons.items():
        print(f"  excluded, {reason}: {n}")
    for path in written:
        print(f"figure: {path}")
