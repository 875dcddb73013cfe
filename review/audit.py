"""Published numbers next to the values recomputed from the studies CSV.

Two parts:

* `audit(df)`: one row per number in ``data/published.yaml`` with the
  published value, the value recomputed from the CSV, their difference, the
  coverage (rows that had the needed field / rows considered) and a status:
  ``match`` (equal at the published precision), ``differs`` (every row
  coded and still different), ``incomplete`` (different, but some rows lack
  the field, so coding them may close the gap), ``no data``
  (nothing to recompute from yet) or ``not recomputable`` (e.g. PRISMA counts,
  which the CSV of included studies cannot know).
* `inconsistencies(published)`: the published numbers checked against each
  other, needing no CSV: the PRISMA arithmetic, category sums, the "other"
  backbone count (7) against the Figure 6 "minor models" exclusion (9), the
  Spearman p values against the p their r and n imply, and Table 1's arithmetic.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from review import spearman as sp
from review.prisma import Check, check_counts, counts_from_mapping
from review.published import Published, PublishedNumber, load_published

STATUSES = ("match", "differs", "incomplete", "no data", "not recomputable")
#: Counts that coding more rows can only raise (so an excess is a real difference).
_GROWING = {"rows", "count", "spearman_subset", "spearman_excluded", "spearman_both_metrics"}
#: Fields a Figure 6 exclusion reason depends on (coverage of that count).
_REASON_FIELDS = {"multiple models": ("backbone_category",), "minor model": ("backbone_category",),
                  "multiple TL types": ("tl_type",), "multiple modalities": ("modality",)}
COLUMNS = ["key", "label", "where", "published", "recomputed", "difference", "coverage_n",
           "coverage_of", "status"]


def _filled(df: pd.DataFrame, field: str) -> pd.Series:
    if field not in df:
        return pd.Series(False, index=df.index)
    s = df[field]
    return s.notna() & s.astype("string").str.strip().ne("")


def _decimals(value: float) -> int:
    text = f"{value:.10g}"
    return len(text.split(".")[1]) if "." in text else 0


def _recompute(n: PublishedNumber, df: pd.DataFrame, analysis: sp.SpearmanAnalysis
               ) -> tuple[float | None, int, int]:
    """(recomputed value or None, coverage_n, coverage_of) for one published number."""
    rule, total = n.recompute or {}, len(df)
    kind = rule.get("kind")
    if kind == "rows":
        return float(total), total, total
    if kind == "count":
        field, filled = rule["field"], _filled(df, rule["field"])
        hits = df[field].astype("string").str.strip().eq(str(rule["value"])).fillna(False) \
            if field in df else filled
        return float(hits.sum()), int(filled.sum()), total
    coded = _filled(df, "backbone_category") & _filled(df, "tl_type") & _filled(df, "modality")
    if kind == "spearman_subset":
        return float(len(analysis.subset)), int(coded.sum()), total
    if kind == "spearman_excluded":
        needs = _REASON_FIELDS.get(rule["reason"], ("backbone_category", "tl_type", "modality"))
        covered = pd.concat([_filled(df, f) for f in needs], axis=1).all(axis=1)
        return float(analysis.excluded_counts().get(rule["reason"], 0)), int(covered.sum()), total
    if kind == "spearman_both_metrics":
        return float(analysis.both_metrics()), int(analysis.points["study_id"].nunique()), len(analysis.subset)
    if kind == "spearman":
        res = analysis.results[rule["metric"]]
        value = {"r": res.r, "p": res.p, "n": float(res.n)}[rule["stat"]]
        return (None if math.isnan(value) else value), res.n, len(analysis.subset)
    return None, 0, total


def audit(df: pd.DataFrame, published: Published | None = None,
          analysis: sp.SpearmanAnalysis | None = None) -> pd.DataFrame:
    """One row per published number: published vs recomputed, difference, coverage, status."""
    published = published or load_published()
    analysis = analysis or sp.analyse(df, n_boot=0)
    rows = []
    for n in published.numbers:
        if not n.recompute:
            rows.append([n.key, n.label, n.where, n.value, None, None, 0, len(df), "not recomputable"])
            continue
        value, cov_n, cov_of = _recompute(n, df, analysis)
        if value is None or cov_n == 0:
            status, diff = "no data", None
        else:
            diff = value - n.value
            tol = 0.5 * 10 ** -_decimals(n.value) if _decimals(n.value) else 0.0
            if abs(round(value, 10) - n.value) <= tol + 1e-12:
                status = "match"
            else:  # a shortfall may only mean that some rows are not coded yet
                can_grow = n.recompute["kind"] in _GROWING and value < n.value
                status = "incomplete" if cov_n < cov_of and (can_grow or n.recompute["kind"] == "spearman") \
                    else "differs"
        rows.append([n.key, n.label, n.where, n.value, value, diff, cov_n, cov_of, status])
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------- internal checks
def _sum_check(p: Published, name: str, parts: list[str], total: str) -> Check | None:
    if not all(k in p.by_key for k in parts + [total]):
        return None
    got = sum(p.value(k) for k in parts)
    if len(parts) == 1:
        detail = f"{p[parts[0]].where}: {got:g}; {p[total].where}: {p.value(total):g}"
    else:
        detail = " + ".join(f"{p.value(k):g}" for k in parts) + f" = {got:g}; published: {p.value(total):g}"
    return Check(name, got, p.value(total), math.isclose(got, p.value(total)), detail)


def _spearman_check(p: Published, metric: str, n_max: int) -> Check | None:
    rk, pk = f"spearman.{metric}.r", f"spearman.{metric}.p"
    if rk not in p.by_key or pk not in p.by_key:
        return None
    r, pub_p = p.value(rk), p.value(pk)
    best_p = sp.implied_p(r, n_max)
    need_n, need_r = sp.n_for_p(r, pub_p), sp.r_for_p(pub_p, n_max)
    # Give the paper every benefit of rounding: r and p are printed to 2 decimals, so the
    # smallest p it could mean is that of |r| + 0.005 at the largest n, against p + 0.005.
    r_half, p_half = 0.5 * 10 ** -_decimals(r), 0.5 * 10 ** -_decimals(pub_p)
    ok = sp.implied_p(abs(r) + r_half, n_max) <= pub_p + p_half
    detail = (f"r = {r:g} at n = {n_max} (the whole Fig. 6 subset; fewer points only raise p) gives "
              f"p = {best_p:.3f} (t approximation, as scipy.stats.spearmanr); p = {pub_p:g} would "
              f"need |r| >= {need_r:.2f} at n = {n_max}, or n >= {need_n} at r = {r:g}")
    return Check(f"Spearman {metric}: p implied by r and n <= {n_max}", round(best_p, 4), pub_p,
                 ok, detail)


def _table1_checks(p: Published) -> list[Check]:
    out = []
    for row in p.table1:
        m = row.get("model", "?")
        fe, fc, tot = row.get("layers_fe"), row.get("layers_fc"), row.get("layers_total")
        if None not in (fe, fc, tot):
            out.append(Check(f"Table 1 {m}: FE + FC layers = trainable layers", fe + fc, tot,
                             fe + fc == tot, f"{fe} + {fc} = {fe + fc}; published: {tot}"))
        pa, pf = row.get("params_all"), row.get("params_fe")
        if pa is not None and pf is not None and fc:
            out.append(Check(f"Table 1 {m}: parameters (all) > parameters (FE only) with {fc} FC layer(s)",
                             pf, pa, pa > pf,
                             f"all {pa:,.0f} vs FE only {pf:,.0f}; values rounded to 0.1 M hide at "
                             "most 0.05 M, and a 1000-class ImageNet FC layer has 1000 x (inputs + 1) "
                             "parameters, more than 0.05 M for 50 or more inputs"))
    return out


def inconsistencies(published: Published | None = None) -> list[Check]:
    """The published numbers checked against each other (no CSV needed)."""
    p = published or load_published()
    checks: list[Check] = []
    for c in check_counts(counts_from_mapping(p.prisma_counts(), source="published counts")):
        if c.ok is not None and c.name != "every count is a non-negative integer":
            c.name = f"PRISMA: {c.name}"
            checks.append(c)
    if "abstract.retrieved" in p.by_key and "prisma.identified" in p.by_key:
        a, r = p.value("abstract.retrieved"), p.value("prisma.identified")
        checks.append(Check("Abstract 'retrieved' = Results 'retrieved'", r, a, a == r,
                            f"Abstract: {a:g} articles retrieved; Results: {r:g} papers retrieved "
                            f"({r:g} - {p.value('prisma.duplicates'):g} duplicates = "
                            f"{r - p.value('prisma.duplicates'):g} screened)"
                            if "prisma.duplicates" in p.by_key else f"{a:g} vs {r:g}"))
    for name, parts, total in (
        ("backbone categories add up to the included studies",
         ["backbone.multiple", "backbone.deep", "backbone.shallow", "family.other"], "prisma.included"),
        ("deep = Inception + ResNet + Inception-ResNet",
         ["family.inception", "family.resnet", "family.inception_resnet"], "backbone.deep"),
        ("shallow = AlexNet + VGG", ["family.alexnet", "family.vgg"], "backbone.shallow"),
        ("TL types add up to the included studies",
         ["tl.many", "tl.feature_extractor", "tl.fine_tuning_from_scratch",
          "tl.feature_extractor_hybrid", "tl.fine_tuning"], "prisma.included"),
        ("Fig. 6 subset + exclusions = included studies",
         ["fig6.subset", "fig6.excluded_multiple_models", "fig6.excluded_multiple_tl",
          "fig6.excluded_minor_models"], "prisma.included"),
        ("Fig. 6 'multiple models' exclusions = multiple-model studies",
         ["fig6.excluded_multiple_models"], "backbone.multiple"),
        ("'other' backbone studies (Backbone model) = 'minor models' excluded from Fig. 6",
         ["family.other"], "fig6.excluded_minor_models"),
    ):
        c = _sum_check(p, name, parts, total)
        if c:
            checks.append(c)
    n_max = int(p.value("fig6.subset")) if "fig6.subset" in p.by_key else 41
    checks += [c for c in (_spearman_check(p, m, n_max) for m in sp.METRICS) if c]
    checks += _table1_checks(p)
    return checks


def to_json(df: pd.DataFrame, table: pd.DataFrame, checks: list[Check], csv: str) -> dict[str, Any]:
    """The JSON shape printed by `review audit --json` (see review.commands.audit)."""
    def clean(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v.item() if hasattr(v, "item") else v

    numbers = [{k: clean(v) for k, v in rec.items()} for rec in table.to_dict("records")]
    return {"csv": csv, "rows": int(len(df)), "numbers": numbers,
            "summary": {s: int((table["status"] == s).sum()) for s in STATUSES},
            "inconsistencies": [c.to_dict() for c in checks]}
