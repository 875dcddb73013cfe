"""What every strategy answers for the protocol, the registry, and the shared Keras policy.

A strategy is policy: which part of the network is frozen and which is trained, what its
inputs are (cached activations or images), which augmentation draws it trains on, and its
hyperparameter candidates. How steps run lives in `harness.engine`; how candidates are
chosen (CV, final fit, test) lives in `harness.protocol`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..defaults import BATCHNORM, DEFAULTS, PRECISIONS, SELECT_ON

STRATEGIES: dict[str, type["Strategy"]] = {}


def register(cls: type["Strategy"]) -> type["Strategy"]:
    """Class decorator: make a strategy available under its `name`."""
    STRATEGIES[cls.name] = cls
    return cls


def get_strategy(name: str) -> type["Strategy"]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"strategy must be one of {', '.join(sorted(STRATEGIES))}. Got {name!r} instead.") from None


@dataclass(frozen=True)
class TrainSettings:
    """Training settings of one trial, read from the config's merged `training` section."""

    epochs: int
    batch_size: int
    momentum: float
    nesterov: bool
    decay: float
    select_on: str
    oversample: dict | None
    batchnorm: str
    precision: str

    def __post_init__(self) -> None:
        if self.select_on not in SELECT_ON:
            raise ValueError(f"training.select_on must be one of {SELECT_ON}. Got {self.select_on!r} instead.")
        if self.batchnorm not in BATCHNORM:
            raise ValueError(f"training.batchnorm must be one of {BATCHNORM}. Got {self.batchnorm!r} instead.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"training.precision must be one of {PRECISIONS}. Got {self.precision!r} instead.")

    @classmethod
    def from_config(cls, training: dict | None = None, backbone: str | None = None, **overrides) -> "TrainSettings":
        """Settings from a `training` section (missing keys: the defaults), batch size for `backbone`.

        `training.batch_size_per_backbone` overrides the batch size for the named backbones
        (Ho & Kim: InceptionResNetV2 ran at 8 after running out of GPU memory at 32).
        """
        t = {**DEFAULTS["training"], **(training or {}), **overrides}
        if t.get("mixed_precision") is True and t["precision"] == "auto":
            t["precision"] = "mixed_float16"       # the older boolean spelling
        if backbone is not None:
            from ..backbones import get_backbone

            per = {get_backbone(str(k)).name: v for k, v in (t.get("batch_size_per_backbone") or {}).items()}
            if get_backbone(backbone).name in per:
                t["batch_size"] = int(per[get_backbone(backbone).name])
        return cls(**{f.name: t[f.name] for f in fields(cls)})


def default_options(strategy: str, **overrides) -> dict:
    """The config defaults of a strategy's options section (hybrid_svm: strategies.hybrid.svm)."""
    section = DEFAULTS["strategies"]
    opts = section["hybrid"][strategy.split("_", 1)[1]] if strategy.startswith("hybrid_") else section[strategy]
    return {**opts, **overrides}


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    p = np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0)
    return float(-np.mean(np.log(p)))


class Strategy(ABC):
    """A learner the protocol can cross-validate: candidates, validation curves, final fit, test scores."""

    name: ClassVar[str]
    #: what `predict_scores` returns, recorded with every result (the scores behind AUC)
    score_kind: ClassVar[str] = "softmax probability"

    def __init__(self, ctx, settings: TrainSettings, options: dict):
        self.ctx = ctx
        self.settings = settings
        self.options = dict(options)
        self.images_trained = 0
        self.train_seconds = 0.0

    # ---- what the protocol calls
    def warm_start(self) -> "Strategy | None":
        """A strategy the protocol cross-validates first; its selection goes to `use_warm_start`."""
        return None

    def use_warm_start(self, selection: dict) -> None:
        raise NotImplementedError(f"{self.name} has no warm start")

    def prepare(self, train_idx: np.ndarray) -> None:
        """Work shared by all folds and candidates (cached activations, input statistics)."""

    @abstractmethod
    def candidates(self) -> list[dict]:
        """Hyperparameter candidates (learning rates, or classifier settings)."""

    def epochs(self) -> int:
        return self.settings.epochs

    @abstractmethod
    def curve(self, train_idx, val_idx, candidate: dict, epochs: int) -> list[float]:
        """Validation score (see `score`) after each epoch of one run."""

    @abstractmethod
    def fit(self, train_idx, candidate: dict, epochs: int) -> None:
        """The final model on all training rows."""

    @abstractmethod
    def predict_scores(self, idx) -> np.ndarray:
        """(n, 3) class scores of rows `idx` from the last fit (kind: `score_kind`); argmax = the prediction."""

    def params(self) -> dict:
        return {}

    # ---- shared policy
    @property
    def higher_is_better(self) -> bool:
        return self.settings.select_on == "val_accuracy"

    def score(self, idx: np.ndarray, scores: np.ndarray) -> float:
        """Selection criterion on validation rows: accuracy (the paper) or log loss of the probabilities."""
        y = self.ctx.y[idx]
        if self.settings.select_on == "val_accuracy":
            return float(np.mean(scores.argmax(1) == y))
        return log_loss(y, scores)

    def training_items(self, train_idx: np.ndarray) -> np.ndarray:
        """Training rows with OAP/OBS oversampled (after the split, within the training rows)."""
        from ..engine.inputs import oversampled_items

        return oversampled_items(np.asarray(train_idx), self.ctx.y, self.settings.oversample, self.ctx.seed)


def set_trainable(model, trainable: bool, batchnorm: str = "train") -> None:
    """Freeze or unfreeze `model`; with batchnorm 'frozen', its BatchNorm layers stay frozen.

    A frozen Keras 3 BatchNorm runs in inference mode (moving statistics used, never
    updated) and its scale and offset do not train, while the layers around it do.
    """
    from keras import layers

    from ..weights import sublayers

    model.trainable = trainable
    for layer in sublayers(model):   # explicitly: a sub-model made by `split_at` does not pass the flag on
        layer.trainable = trainable and not (batchnorm == "frozen" and isinstance(layer, layers.BatchNormalization))
