"""`meta_analysis(studies, metric, moderators, method) -> MetaResult`: the review's meta-analysis.

Pools a reported accuracy or AUC across studies on the logit scale (random
effects) and, with moderators, fits a mixed-effects meta-regression on the
same studies. `MetaResult.to_dict()` is exactly the JSON of `review meta --json`:

    {"metric", "method", "k", "excluded": [{"study_id", "reason"}],
     "pooled": {"estimate", "ci_low", "ci_high"},        # the metric's own scale
     "tau2", "i2",                                       # i2 in percent
     "coefficients": [{"term", "estimate", "se", "ci_low", "ci_high", "p"}]}   # logit scale

`pooled` is the intercept-only random-effects estimate over the k included
studies (back-transformed); `tau2` and `i2` belong to the fitted model, i.e.
the residual heterogeneity when moderators are given. When fewer studies
remain than the model needs, the numbers are null and `message` says why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from review.meta.dataset import (ACCURACY_ASSUMPTION, AUC_ASSUMPTION, MetaDataset, MetaError, check_request,
                                 dataset_from_effects, study_effects)
from review.meta.estimators import make_estimator
from review.meta.results import Coefficient, EggerTest, MetaRegressionResult, egger_test


@dataclass
class MetaResult:
    """One meta-analysis of one metric: pooled estimate, heterogeneity, coefficients, exclusions."""

    metric: str
    method: str
    moderators: tuple[str, ...]
    k: int
    excluded: list[dict[str, str]]
    studies: pd.DataFrame
    pooled: dict[str, float | None] = field(default_factory=lambda: dict(estimate=None, ci_low=None, ci_high=None))
    tau2: float | None = None
    i2: float | None = None
    coefficients: list[Coefficient] = field(default_factory=list)
    prediction: tuple[float, float] | None = None   # metric scale, intercept-only model
    egger: EggerTest | None = None
    reference_levels: dict[str, str] = field(default_factory=dict)
    dataset: MetaDataset | None = None
    model: MetaRegressionResult | None = None
    pooled_model: MetaRegressionResult | None = None
    message: str = ""

    @property
    def assumption(self) -> str:
        """How the sampling variances were obtained (stated with every result)."""
        return AUC_ASSUMPTION if self.metric == "auc" else ACCURACY_ASSUMPTION

    def coefficient(self, term: str) -> Coefficient | None:
        return next((c for c in self.coefficients if c.term == term), None)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "method": self.method, "k": self.k,
                "excluded": [dict(e) for e in self.excluded],
                "pooled": {key: _num(value) for key, value in self.pooled.items()},
                "tau2": _num(self.tau2), "i2": _num(self.i2),
                "coefficients": [{k: _num(v) if k != "term" else v for k, v in c.to_dict().items()}
                                 for c in self.coefficients]}


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def meta_analysis(studies: pd.DataFrame, metric: str, moderators: Sequence[str] = (),
                  method: str = "reml", level: float = 0.95) -> MetaResult:
    """Random-effects pooling of `metric` and, with `moderators`, a mixed-effects meta-regression.

    `studies` is a frame as `review.store.load_studies` returns it. Studies without
    the metric, `n_test` or a moderator, or whose metric is that of a model adding
    non-TL features, are excluded and listed with the reason. Raises MetaError for a
    bad `metric`, `method` or moderator name; too few studies is not an error (see
    `MetaResult.message`).
    """
    moderators = tuple(moderators)
    check_request(metric, moderators)
    make_estimator(method)  # fail on a bad method before any work
    effects, excluded = study_effects(studies, metric, moderators)
    result = MetaResult(metric=metric, method=str(method).lower(), moderators=moderators, k=len(effects),
                        excluded=excluded, studies=_study_table(effects, moderators, None, level))
    if result.k < 2:
        result.message = (f"too few studies to pool: k = {result.k} with {metric} and n_test "
                          f"({len(excluded)} excluded; see 'excluded')")
        return result
    try:
        dataset = dataset_from_effects(effects, moderators)
        model = make_estimator(method).fit(dataset).result(level)
        pooled = model if not moderators else make_estimator(method).fit(dataset.intercept_only()).result(level)
    except MetaError as exc:
        result.message = str(exc)
        return result
    b = pooled.coefficients[0]
    result.dataset, result.model, result.pooled_model = dataset, model, pooled
    result.pooled = {"estimate": float(expit(b.estimate)), "ci_low": float(expit(b.ci_low)),
                     "ci_high": float(expit(b.ci_high))}
    result.prediction = tuple(float(x) for x in expit(np.array(pooled.prediction_interval())))
    result.tau2, result.i2 = model.tau2, model.i2
    result.coefficients = model.coefficients
    result.reference_levels = dict(dataset.reference_levels)
    result.studies = _study_table(effects, moderators, pooled, level)
    if dataset.k >= 3:
        result.egger = egger_test(dataset)
    return result


def _study_table(effects: pd.DataFrame, moderators: tuple[str, ...], pooled: MetaRegressionResult | None,
                 level: float) -> pd.DataFrame:
    """Per-study rows for forest plots: metric-scale estimate and CI, RE weight (%), moderators."""
    from scipy.stats import norm

    z = norm.isf((1 - level) / 2)
    se = np.sqrt(effects["vi"].to_numpy(float))
    y = effects["yi"].to_numpy(float)
    table = pd.DataFrame({
        "study_id": effects["study_id"].astype(str),
        "estimate": effects["value"].astype(float),
        "ci_low": expit(y - z * se), "ci_high": expit(y + z * se),
        "weight": pooled.weights if pooled is not None else np.full(len(effects), np.nan),
        "n_test": effects["n_test"].astype(int),
        "logit": y, "se_logit": se,
    })
    for term in moderators:
        table[term] = effects[term].to_numpy()
    return table.reset_index(drop=True)


__all__ = ["MetaResult", "meta_analysis"]
