"""Estimators of the between-study variance tau^2 (random- and mixed-effects models).

Dataset -> Estimator -> Result, as in PyMARE: `Estimator.fit(dataset)` sets
`tau2_` and `dataset_` and returns the estimator; `.result()` hands both to
`MetaRegressionResult`, which owns the inference (statsmodels WLS).

* `dl`: DerSimonian & Laird's method of moments. Without moderators it is
  statsmodels' `combine_effects(method_re="dl")`; with moderators, its
  generalisation on the residual heterogeneity Q_E of the fixed-effects fit
  (Raudenbush 2009): tau^2 = (Q_E - (k - p)) / tr(P), P = W - W X (X'WX)^-1 X'W.
* `reml`: restricted maximum likelihood by Fisher scoring (Viechtbauer 2005,
  J Educ Behav Stat 30:261), the algorithm metafor's `rma(method="REML")` uses:
  tau^2 += (y'PPy - tr(P)) / tr(PP), step halved to stay >= 0. statsmodels
  has no REML meta-analysis estimator, hence this short loop.

Both truncate tau^2 at 0. Pick one by name with `make_estimator("reml")`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from review.meta.dataset import MetaDataset, MetaError

ESTIMATORS: dict[str, type["Estimator"]] = {}


def register(cls: type["Estimator"]) -> type["Estimator"]:
    ESTIMATORS[cls.name] = cls
    return cls


def make_estimator(method: str, **params) -> "Estimator":
    """The estimator registered under `method` ('reml' or 'dl')."""
    cls = ESTIMATORS.get(str(method).lower())
    if cls is None:
        raise MetaError(f"method must be one of {', '.join(ESTIMATORS)}. Got {method!r} instead.")
    return cls(**params)


def p_matrix(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """P = W - W X (X'WX)^-1 X'W for weights w (the residual-maker of a weighted fit)."""
    xtw = X.T * w
    return np.diag(w) - xtw.T @ np.linalg.solve(xtw @ X, xtw)


def check_estimable(dataset: MetaDataset) -> None:
    """Refuse designs that leave no degrees of freedom or are rank deficient."""
    if dataset.k <= dataset.p:
        raise MetaError(f"too few studies: k = {dataset.k} for {dataset.p} coefficient(s) "
                        f"({', '.join(dataset.terms)}); a random-effects model needs k > p")
    if np.linalg.matrix_rank(dataset.X) < dataset.p:
        raise MetaError(f"the moderators are collinear among these {dataset.k} studies "
                        f"(terms: {', '.join(dataset.terms)}); drop one of them")


class Estimator(ABC):
    """Estimates tau^2 from a MetaDataset; `fit` returns self with `tau2_` set."""

    name: ClassVar[str]

    def fit(self, dataset: MetaDataset) -> "Estimator":
        check_estimable(dataset)
        self.dataset_ = dataset
        self.tau2_ = max(0.0, float(self._tau2(dataset)))
        return self

    @abstractmethod
    def _tau2(self, dataset: MetaDataset) -> float:
        """The untruncated estimate."""

    def result(self, level: float = 0.95):
        from review.meta.results import MetaRegressionResult

        if not hasattr(self, "tau2_"):
            raise MetaError(f"{type(self).__name__} is not fitted yet; call fit(dataset) first")
        return MetaRegressionResult(self.dataset_, self.tau2_, self.name, level)


@register
class DerSimonianLaird(Estimator):
    """Method-of-moments tau^2 (statsmodels for the intercept-only model)."""

    name = "dl"

    def _tau2(self, dataset: MetaDataset) -> float:
        if dataset.p == 1:
            from statsmodels.stats.meta_analysis import combine_effects

            return float(combine_effects(dataset.y, dataset.v, method_re="dl").tau2)
        w = 1.0 / dataset.v
        P = p_matrix(dataset.X, w)
        q_e = float(dataset.y @ P @ dataset.y)
        return (q_e - (dataset.k - dataset.p)) / float(np.trace(P))


@register
class RestrictedMaximumLikelihood(Estimator):
    """REML tau^2 by Fisher scoring, started at the DL estimate."""

    name = "reml"

    def __init__(self, tol: float = 1e-10, max_iter: int = 200):
        self.tol = tol
        self.max_iter = max_iter

    def _tau2(self, dataset: MetaDataset) -> float:
        y, v, X = dataset.y, dataset.v, dataset.X
        if self._step(y, v, X, 0.0) <= 0:
            return 0.0  # the restricted likelihood falls from tau^2 = 0 on: the maximum is on the boundary
        tau2 = max(0.0, DerSimonianLaird()._tau2(dataset))
        for _ in range(self.max_iter):
            step = self._step(y, v, X, tau2)
            while tau2 + step < 0:
                step /= 2
            tau2, previous = tau2 + step, tau2
            if abs(tau2 - previous) <= self.tol * max(1.0, previous):
                return tau2
        raise MetaError(f"REML did not converge in {self.max_iter} Fisher-scoring steps "
                        f"(last tau^2 = {tau2:.6g}); try --method dl")

    @staticmethod
    def _step(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> float:
        P = p_matrix(X, 1.0 / (v + tau2))
        Py = P @ y
        return float((Py @ Py - np.trace(P)) / np.sum(P * P))


__all__ = ["ESTIMATORS", "DerSimonianLaird", "Estimator", "RestrictedMaximumLikelihood", "make_estimator"]
