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


class Hybrid(Strategy):
    """Frozen pooled features → a scikit-learn classifier; candidates are its hyperparameter grid."""

    kind: ClassVar[str]

    def __init__(self, ctx, settings, options):
        super().__init__(ctx, settings, options)
        self.grid = dict(options.get(self.kind, options))    # a trial's options: {"svm": {...}} / {"rf": {...}}
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

    def predict_scores(self, idx) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        proba = np.zeros((len(idx), 3))
        proba[:, self.clf.classes_] = self.clf.predict_proba(self.features(idx, np.zeros(len(idx), np.int64)))
        return proba

    def curve(self, train_idx, val_idx, candidate, epochs=1) -> list[float]:
        self.fit(train_idx, candidate)
        return [self.score(np.asarray(val_idx), self.predict_scores(val_idx))]

    def params(self) -> dict:
        return {"trainable_params": 0, "total_params": self.ctx.base.count_params(), "classifier": self.kind}


@register
class HybridSVM(Hybrid):
    """Standardised features → SVC; its scores are the one-vs-rest decision values, not probabilities.

    An SVM has no probabilities of its own. A softmax of its decision values (the harness
    before) keeps the order within a row but not across samples, so it got the per-class
    AUC wrong and its log loss meant nothing; calibrating them (Platt scaling on
    cross-validated decision values) adds a second fitted model on a few patients and,
    after the normalisation across classes, can rank a class worse than the SVM itself.
    So: the class is the SVM's prediction (argmax of `decision_function`, shape "ovr"), the
    per-class AUC ranks by that class's decision value, and C is selected on validation
    accuracy or, with `select_on: val_loss`, on the multiclass hinge loss (Crammer-Singer)
    of the decision values.
    """

    name = "hybrid_svm"
    kind = "svm"
    score_kind = "SVM one-vs-rest decision values (not probabilities)"

    def make(self, candidate: dict, items: np.ndarray):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        return make_pipeline(StandardScaler(), SVC(decision_function_shape="ovr", random_state=self.ctx.seed,
                                                   **candidate))

    def predict_scores(self, idx) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        decision = np.asarray(self.clf.decision_function(self.features(idx, np.zeros(len(idx), np.int64))),
                              dtype=np.float64)
        classes = self.clf.classes_
        if decision.ndim == 1:              # two classes in training: one signed margin
            decision = np.stack([-decision, decision], axis=1)
        scores = np.full((len(idx), 3), decision.min() - 1.0 if decision.size else 0.0)
        scores[:, classes] = decision       # a class never trained on: one constant score below all others
        return scores

    def score(self, idx: np.ndarray, scores: np.ndarray) -> float:
        from sklearn.metrics import hinge_loss

        y = self.ctx.y[idx]
        if self.settings.select_on == "val_accuracy":
            return float(np.mean(scores.argmax(1) == y))
        return float(hinge_loss(y, scores, labels=[0, 1, 2]))


@register
class HybridRF(Hybrid):
    """Pooled features → random forest (probabilities: the trees' mean class shares)."""

    name = "hybrid_rf"
    kind = "rf"
    score_kind = "random-forest probability (mean of the trees' class shares)"

    def make(self, candidate: dict, items: np.ndarray):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=self.ctx.seed, n_jobs=1, **candidate)
