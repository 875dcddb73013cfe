"""Inference for a fitted random- or mixed-effects model: coefficients, heterogeneity, bias.

Given tau^2, the coefficients are a weighted least-squares fit with weights
1 / (v + tau^2) and the sampling variances taken as known (statsmodels `WLS`
with `cov_type="fixed scale"`, scale 1): Wald z tests and normal confidence
intervals, as metafor's default `test="z"`. Heterogeneity follows metafor:
Q_E from the fixed-effects fit, I^2 = 100 tau^2 / (tau^2 + s^2) with the
"typical" sampling variance s^2 = (k - p) / tr(P) (Higgins & Thompson 2002),
H^2 = (tau^2 + s^2) / s^2. The prediction interval of an intercept-only
model is estimate +- z sqrt(SE^2 + tau^2) (metafor's `predict`).
`egger_test` is Egger et al.'s (1997, BMJ 315:629) regression test: OLS of
y / se on 1 / se; an intercept away from 0 signals funnel asymmetry.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from review.meta.dataset import MetaDataset, MetaError
from review.meta.estimators import p_matrix


@dataclass(frozen=True)
class Coefficient:
    """One model coefficient on the logit scale."""

    term: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p: float

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


@dataclass(frozen=True)
class EggerTest:
    """Egger's regression test for funnel-plot asymmetry."""

    intercept: float
    se: float
    t: float
    df: int
    p: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class MetaRegressionResult:
    """Coefficients, heterogeneity and (intercept-only) prediction interval of one fit."""

    def __init__(self, dataset: MetaDataset, tau2: float, method: str, level: float = 0.95):
        import statsmodels.api as sm

        if not 0 < level < 1:
            raise MetaError(f"level must be between 0 and 1. Got {level!r} instead.")
        self.dataset, self.tau2, self.method, self.level = dataset, float(tau2), method, level
        w = 1.0 / (dataset.v + self.tau2)
        self.weights = w / w.sum() * 100  # percent
        fit = sm.WLS(dataset.y, dataset.X, weights=w).fit(cov_type="fixed scale", cov_kwds={"scale": 1.0})
        ci = np.asarray(fit.conf_int(alpha=1 - level))
        self.coefficients = [Coefficient(term, float(b), float(se), float(lo), float(hi), float(p))
                             for term, b, se, (lo, hi), p in
                             zip(dataset.terms, fit.params, fit.bse, ci, fit.pvalues)]
        self.fitted = np.asarray(fit.fittedvalues)
        P_fe = p_matrix(dataset.X, 1.0 / dataset.v)
        self.q = float(dataset.y @ P_fe @ dataset.y)
        self.q_df = dataset.k - dataset.p
        self.q_p = float(stats.chi2.sf(self.q, self.q_df)) if self.q_df > 0 else math.nan
        typical = self.q_df / float(np.trace(P_fe))
        self.i2 = 100 * self.tau2 / (self.tau2 + typical)
        self.h2 = (self.tau2 + typical) / typical

    @property
    def z(self) -> float:
        return float(stats.norm.isf((1 - self.level) / 2))

    def prediction_interval(self) -> tuple[float, float]:
        """Where the true effect of a new study is expected (intercept-only models)."""
        if self.dataset.p != 1:
            raise MetaError("a prediction interval is given for the intercept-only model only")
        b = self.coefficients[0]
        half = self.z * math.sqrt(b.se ** 2 + self.tau2)
        return b.estimate - half, b.estimate + half

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.to_dict() for c in self.coefficients])


def egger_test(dataset: MetaDataset) -> EggerTest:
    """Egger's test on the studies of `dataset` (its moderators are ignored); needs k >= 3."""
    import statsmodels.api as sm

    if dataset.k < 3:
        raise MetaError(f"Egger's test needs at least 3 studies; got {dataset.k}")
    se = np.sqrt(dataset.v)
    fit = sm.OLS(dataset.y / se, sm.add_constant(1.0 / se, has_constant="add")).fit()
    return EggerTest(float(fit.params[0]), float(fit.bse[0]), float(fit.tvalues[0]), int(fit.df_resid),
                     float(fit.pvalues[0]))


__all__ = ["Coefficient", "EggerTest", "MetaRegressionResult", "egger_test"]
