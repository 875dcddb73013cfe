"""Frozen base: a trained dense head (feature extractor) or a scikit-learn classifier (hybrid).

The base runs in inference mode (`training=False`: BatchNorm uses its moving statistics),
on the bank draws, so its output can be cached once per trial. On a randomly initialised
base the head's inputs are standardised first (`TrialContext.standardiser`): raw, they
can be as small as 1e-17.
"""
from __future__ import annotations

import itertools
import time
from typing import ClassVar

import numpy as np

from ..backbones import count_params
from .base import Strategy, register, set_trainable
from .network import KerasStrategy


def _prepare_frozen_base(ctx, train_idx) -> None:
    if ctx.cached:
        ctx.train_on(train_idx)
        ctx.pooled()           # fill the cache once, before any timing of folds
    ctx.standardiser("pooled", train_idx)


@register
class FeatureExtractor(KerasStrategy):
    """Depth 0: frozen base (inference-mode BatchNorm), trained head."""

    name = "feature_extractor"

    def prepare(self, train_idx) -> None:
        _prepare_frozen_base(self.ctx, train_idx)

    def build(self):
        import keras

        if self.ctx.cached:
            inp = keras.Input(shape=(self.ctx.feature_dim,), name="features")
            return inp, self.head(self.ctx.standardise(inp, "pooled"), self.ctx.seed)
        set_trainable(self.ctx.base, False)
        inp = keras.Input(shape=self.ctx.base.input_shape[1:], name="image")
        return inp, self.head(self.ctx.standardise(self.ctx.base(inp, training=False), "pooled"), self.ctx.seed)

    def apply_plan(self) -> None:
        if not self.ctx.cached:
            set_trainable(self.ctx.base, False)

    def inputs(self, idx, draws):
        if self.ctx.cached:
            return self.ctx.gather(self.ctx.pooled(), idx, draws)
        return [self.ctx.bank.batch(idx, draws)]

    def predict_batch_rows(self) -> int:
        # cached: the model is the dense head on pooled vectors, so one call covers a whole set
        return 8192 if self.ctx.cached else super().predict_batch_rows()

    def head_weights(self) -> list:
        return [layer.get_weights() for layer in self.head_layers]

    def params(self) -> dict:
        head = count_params(w for layer in self.head_layers for w in layer.trainable_weights)
        return {"trainable_params": head, "total_params": head + self.ctx.base.count_params()}


def calibration_folds(groups: np.ndarray, labels: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Patient-grouped (train, test) splits of training items for probability calibration.

    Items are grouped by patient, so the oversampled copies of one image (and every other
    image of that patient) fall on one side of every split: the calibration map never sees
    a copy of an image its classifier was trained on. Stratified by class where possible.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    k = min(n_splits, n_groups)
    if k < 2:
        raise ValueError(f"probability calibration needs items from at least 2 patients. Got {n_groups} instead.")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in cv.split(np.zeros(len(labels)), labels, groups)]


class Hybrid(Strategy):
    """Frozen pooled features → a scikit-learn classifier; candidates are its hyperparameter grid."""

    kind: ClassVar[str]

    def __init__(self, ctx, settings, options):
        super().__init__(ctx, settings, options)
        self.grid = dict(options)
        self.clf = None

    def candidates(self) -> list[dict]:
        keys = sorted(self.grid)
        values = [v if isinstance(v, list) else [v] for v in (self.grid[k] for k in keys)]
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)] or [{}]

    def epochs(self) -> int:
        return 1

    def prepare(self, train_idx) -> None:
        _prepare_frozen_base(self.ctx, train_idx)

    def features(self, idx, draws) -> np.ndarray:
        """Pooled features (standardised on a random-init base: scikit-learn's trees treat
        features spanning less than 1e-7 as constant)."""
        if self.ctx.cached:
            feats = self.ctx.gather(self.ctx.pooled(), idx, draws)[0]
        else:
            feats = self.ctx.forward_pooled(idx, draws)
        feats = np.asarray(feats, dtype="float32")
        spec = self.ctx.standardiser("pooled")
        if spec is not None:
            offset, scale = spec[0]
            feats = feats * scale + offset          # float32, as the Keras head's Rescaling layer
        return feats.astype("float64")

    def make(self, candidate: dict, items: np.ndarray):
        raise NotImplementedError

    def fit(self, train_idx, candidate, epochs=1) -> None:
        items = self.training_items(np.asarray(train_idx))
        draws = self.ctx.bank.augmentation.draws(len(items), 0, "bank")
        t0 = time.perf_counter()
        self.clf = self.make(candidate, items).fit(self.features(items, draws), self.ctx.y[items])
        self.train_seconds += time.perf_counter() - t0
        self.images_trained += len(items)

    def predict_proba(self, idx) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        proba = np.zeros((len(idx), 3))
        proba[:, self.clf.classes_] = self.clf.predict_proba(self.features(idx, np.zeros(len(idx), np.int64)))
        return proba

    def curve(self, train_idx, val_idx, candidate, epochs=1) -> list[float]:
        self.fit(train_idx, candidate)
        return [self.score(np.asarray(val_idx), self.predict_proba(val_idx))]

    def params(self) -> dict:
        return {"trainable_params": 0, "total_params": self.ctx.base.count_params(), "classifier": self.kind}


@register
class HybridSVM(Hybrid):
    """Standardised features → SVC, with probabilities calibrated on patient-grouped folds.

    An SVM has no probabilities of its own: its one-vs-rest decision values are on no common
    scale across samples, so a softmax of them ranks samples wrongly for a class (wrong
    per-class AUC) and its log loss says nothing. Here `CalibratedClassifierCV` (sigmoid, i.e.
    Platt scaling, `ensemble=False`: one SVC on all items, the calibration map fitted on
    cross-validated decision values) turns them into probabilities; its folds are grouped by
    patient (`calibration_folds`), so oversampled copies never straddle a split.
    """

    name = "hybrid_svm"
    kind = "svm"
    calibration_splits = 3
    score_kind = "calibrated probability (SVC decision values, sigmoid/Platt, patient-grouped 3-fold CV)"

    def make(self, candidate: dict, items: np.ndarray):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        svc = make_pipeline(StandardScaler(), SVC(random_state=self.ctx.seed, **candidate))
        groups = self.ctx.table["patient"].astype(str).to_numpy()[items]
        folds = calibration_folds(groups, self.ctx.y[items], self.calibration_splits, self.ctx.seed)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)


@register
class HybridRF(Hybrid):
    """Pooled features → random forest (probabilities: the trees' mean class shares)."""

    name = "hybrid_rf"
    kind = "rf"
    score_kind = "random-forest probability (mean of the trees' class shares)"

    def make(self, candidate: dict, items: np.ndarray):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=self.ctx.seed, n_jobs=1, **candidate)
