"""Effect sizes, sampling variances and the design matrix of a meta-analysis.

A `MetaDataset` is what every estimator fits: effect sizes `y`, their known
sampling variances `v`, a design matrix `X` (intercept first) and names for
its columns and rows. `study_effects` turns coded studies into logit-scale
effect sizes:

* accuracy: logit(p), binomial variance 1 / (n p (1 - p)) with n = `n_test`;
* AUC: logit(A), Hanley & McNeil (1982) variance of A under the assumption of
  equal classes (n_test / 2 positives, n_test / 2 negatives; the sources rarely
  give the split), carried to the logit scale by the delta method:
  var(logit A) = var(A) / (A (1 - A))^2.

A value of exactly 0 or 1 has no finite logit: it is moved half an observation
inwards, (p n + 0.5) / (n + 1), the usual continuity correction for
proportions (metafor's `escalc(measure="PLO", add=1/2, to="only0")`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

METRICS: tuple[str, ...] = ("accuracy", "auc")
#: Moderator terms `review meta --moderators` accepts, and the column each is built from.
MODERATORS: dict[str, str] = {
    "log10_images": "n_images", "tl_type": "tl_type", "backbone_category": "backbone_category",
    "modality": "modality", "year": "year",
}
CATEGORICAL: frozenset[str] = frozenset({"tl_type", "backbone_category", "modality"})
COMBINED_SCOPE = "TL combined with other features"
AUC_ASSUMPTION = ("AUC variance: Hanley & McNeil (1982) with the test set assumed split evenly "
                  "between the two classes (n_test / 2 each), then the delta method to the logit scale")
ACCURACY_ASSUMPTION = "accuracy variance: binomial, 1 / (n_test p (1 - p)) on the logit scale"


class MetaError(ValueError):
    """Input a meta-analysis cannot use; the message says what to change."""


@dataclass(frozen=True)
class MetaDataset:
    """Effect sizes `y`, sampling variances `v` and design `X` (k x p, intercept first)."""

    y: np.ndarray
    v: np.ndarray
    X: np.ndarray
    terms: tuple[str, ...] = ("intercept",)
    labels: tuple[str, ...] = ()
    reference_levels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        y, v, X = (np.asarray(a, dtype=float) for a in (self.y, self.v, self.X))
        if y.ndim != 1 or v.shape != y.shape or X.ndim != 2 or X.shape[0] != len(y):
            raise MetaError(f"y, v and X must describe the same k studies; got shapes {y.shape}, {v.shape}, "
                            f"{X.shape}")
        if X.shape[1] != len(self.terms):
            raise MetaError(f"X has {X.shape[1]} columns but {len(self.terms)} term names were given")
        if not (np.isfinite(y).all() and np.isfinite(v).all() and np.isfinite(X).all()):
            raise MetaError("effect sizes, variances and moderators must be finite numbers")
        if (v <= 0).any():
            raise MetaError(f"sampling variances must be > 0; got {v[v <= 0].tolist()}")
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "X", X)
        if not self.labels:
            object.__setattr__(self, "labels", tuple(str(i + 1) for i in range(len(y))))

    @property
    def k(self) -> int:
        return len(self.y)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    def intercept_only(self) -> "MetaDataset":
        """The same studies without moderators (for the pooled estimate)."""
        return MetaDataset(self.y, self.v, np.ones((self.k, 1)), ("intercept",), self.labels)

    @classmethod
    def from_arrays(cls, y: Sequence[float], v: Sequence[float], moderators: pd.DataFrame | None = None,
                    labels: Sequence[str] | None = None) -> "MetaDataset":
        """Build from effect sizes, variances and a frame of moderators (numeric or categorical)."""
        k = len(y)
        X, terms, refs = design_matrix(moderators if moderators is not None else pd.DataFrame(index=range(k)))
        return cls(np.asarray(y, float), np.asarray(v, float), X, terms,
                   tuple(map(str, labels)) if labels is not None else (), refs)


def design_matrix(moderators: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...], dict[str, str]]:
    """Intercept + one column per numeric moderator + treatment dummies per categorical one.

    A categorical moderator's reference level is its most frequent level (ties: the
    first in the column's category order, else alphabetical); each other level gets
    a column named ``name[level]``.
    """
    k = len(moderators)
    columns, terms, refs = [np.ones(k)], ["intercept"], {}
    for name in moderators.columns:
        col = moderators[name]
        if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
            levels = _levels(col)
            if len(levels) < 2:
                raise MetaError(f"moderator {name!r} has a single level ({levels[0] if levels else 'none'}) "
                                "among the included studies; it cannot explain anything, leave it out")
            counts = col.astype(str).value_counts()
            reference = max(levels, key=lambda lv: (counts.get(lv, 0), -levels.index(lv)))
            refs[name] = reference
            for level in levels:
                if level != reference:
                    columns.append((col.astype(str) == level).to_numpy(float))
                    terms.append(f"{name}[{level}]")
        else:
            columns.append(pd.to_numeric(col).to_numpy(float))
            terms.append(str(name))
    return np.column_stack(columns), tuple(terms), refs


def _levels(col: pd.Series) -> list[str]:
    present = set(col.dropna().astype(str))
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [str(c) for c in col.cat.categories if str(c) in present]
    return sorted(present)


# --------------------------------------------------------------------------- effect sizes
def continuity_corrected(p: float, n: float) -> float:
    """p itself, or (p n + 0.5) / (n + 1) when p is exactly 0 or 1."""
    return (p * n + 0.5) / (n + 1) if p <= 0 or p >= 1 else p


def logit_accuracy(p: float, n: float) -> tuple[float, float]:
    """(logit, variance) of an accuracy p measured on n test cases (binomial)."""
    q = continuity_corrected(p, n)
    return math.log(q / (1 - q)), 1.0 / (n * q * (1 - q))


def hanley_mcneil_variance(auc: float, n_pos: float, n_neg: float) -> float:
    """Variance of an AUC (Hanley & McNeil 1982, Radiology 143:29, eq. 2)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)


def logit_auc(auc: float, n: float) -> tuple[float, float]:
    """(logit, variance) of an AUC on n test cases, assumed n / 2 per class (see module doc)."""
    a = continuity_corrected(auc, n)
    var = hanley_mcneil_variance(a, n / 2, n / 2)
    return math.log(a / (1 - a)), var / (a * (1 - a)) ** 2


EFFECTS = {"accuracy": logit_accuracy, "auc": logit_auc}


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df:
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    return df[column].astype("string").fillna("").str.strip()


def _number(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df:
        return pd.Series([np.nan] * len(df), index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce").astype(float)


def moderator_values(df: pd.DataFrame, term: str) -> pd.Series:
    """The values of one moderator term (NaN / '' where not coded)."""
    if term == "log10_images":
        n = _number(df, "n_images")
        return np.log10(n.where(n > 0))
    if term == "year":
        return _number(df, "year")
    return _text(df, MODERATORS[term]).replace("", pd.NA)


def check_request(metric: str, moderators: Sequence[str]) -> None:
    if metric not in METRICS:
        raise MetaError(f"metric must be one of {', '.join(METRICS)}. Got {metric!r} instead.")
    unknown = [m for m in moderators if m not in MODERATORS]
    if unknown:
        raise MetaError(f"unknown moderator(s) {unknown}; choose from {', '.join(MODERATORS)}")
    dup = sorted({m for m in moderators if list(moderators).count(m) > 1})
    if dup:
        raise MetaError(f"moderator(s) {dup} given twice; list each once")


def study_effects(df: pd.DataFrame, metric: str, moderators: Sequence[str] = ()
                  ) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """(included studies with value, n_test, yi, vi and moderator columns; excluded with reasons).

    Reasons, each study under its first: no <metric>; metric of a model that adds
    non-TL features (metric_scope); no n_test (or, for AUC, fewer than 2 test cases);
    missing moderator <term> (<column> not coded).
    """
    check_request(metric, moderators)
    df = df.reset_index(drop=True)  # positions, whatever index the caller's frame has
    ids, value, n = _text(df, "study_id"), _number(df, metric), _number(df, "n_test")
    scope = _text(df, "metric_scope")
    mods = {term: moderator_values(df, term) for term in moderators}
    rows, excluded = [], []
    for i in df.index:
        reason = None
        if math.isnan(value[i]):
            reason = f"no {metric}"
        elif scope[i] == COMBINED_SCOPE:
            reason = f"metric_scope is {COMBINED_SCOPE!r}: not a TL result"
        elif math.isnan(n[i]) or n[i] < 1:
            reason = "no n_test (test-set size behind the metric)"
        elif metric == "auc" and n[i] < 2:
            reason = "n_test < 2: an AUC needs at least one case of each class"
        else:
            missing = [t for t in moderators if pd.isna(mods[t][i])]
            if missing:
                reason = "missing moderator: " + ", ".join(f"{t} ({MODERATORS[t]} not coded)" for t in missing)
        if reason:
            excluded.append({"study_id": ids[i], "reason": reason})
            continue
        yi, vi = EFFECTS[metric](float(value[i]), float(n[i]))
        row = {"study_id": ids[i], "value": float(value[i]), "n_test": int(n[i]), "yi": yi, "vi": vi}
        row.update({t: mods[t][i] for t in moderators})
        rows.append(row)
    columns = ["study_id", "value", "n_test", "yi", "vi", *moderators]
    return pd.DataFrame(rows, columns=columns), excluded


def dataset_from_effects(effects: pd.DataFrame, moderators: Sequence[str] = ()) -> MetaDataset:
    """The MetaDataset of `study_effects`' included rows (categorical levels in codebook order)."""
    frame = pd.DataFrame(index=effects.index)
    for term in moderators:
        if term in CATEGORICAL:
            order = _vocabulary(MODERATORS[term])
            present = [lv for lv in order if lv in set(effects[term])] + sorted(set(effects[term]) - set(order))
            frame[term] = pd.Categorical(effects[term].astype(str), categories=present)
        else:
            frame[term] = effects[term].astype(float)
    return MetaDataset.from_arrays(effects["yi"], effects["vi"], frame, labels=effects["study_id"])


def _vocabulary(column: str) -> list[str]:
    from review.codebook import load_codebook

    return list(load_codebook().fields[column].vocabulary or ())
