"""What every strategy answers for the protocol, the registry, and the shared Keras policy.

A strategy is policy: which part of the network is frozen and which is trained, what its
inputs are (cached activations or images), which augmentation draws it trains on, and its
hyperparameter candidates. How steps run lives in `harness.engine`; how candidates are
chosen (CV, final fit, test) lives in `harness.protocol`.
"""
from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

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


def _schema_default(key: str):
    """A `dataclasses.field` whose default is the config schema's (the one place defaults live)."""
    def default():
        from ..config import schema

        return schema.Training().model_dump(mode="json")[key]

    return field(default_factory=default)


@dataclass(frozen=True)
class TrainSettings:
    """Training settings of one trial, read from its `training` section (defaults: the config schema's)."""

    epochs: int = _schema_default("epochs")
    batch_size: int = _schema_default("batch_size")
    momentum: float = _schema_default("momentum")
    nesterov: bool = _schema_default("nesterov")
    decay: float = _schema_default("decay")
    select_on: str = _schema_default("select_on")
    oversample: dict | None = _schema_default("oversample")
    batchnorm: str = _schema_default("batchnorm")
    precision: str = _schema_default("precision")

    def __post_init__(self) -> None:
        from ..config import schema

        for key in ("select_on", "batchnorm", "precision"):
            allowed = typing.get_args(schema.Training.model_fields[key].annotation)
            if getattr(self, key) not in allowed:
                raise ValueError(f"training.{key} must be one of {allowed}. Got {getattr(self, key)!r} instead.")

    @classmethod
    def from_config(cls, training: dict | None = None, backbone: str | None = None, **overrides) -> "TrainSettings":
        """Settings from a trial's `training` section; keys it lacks take the schema's defaults.

        A trial's section already holds its backbone's batch size (the grid expansion applies
        `training.batch_size_per_backbone`); a raw section that still has the mapping gets it
        applied here for `backbone` (Ho & Kim: InceptionResNetV2 ran at 8, out of memory at 32).
        """
        from ..config import schema

        t = {**schema.Training().model_dump(mode="json"), **(training or {}), **overrides}
        if t.get("mixed_precision") is not None and t["precision"] == "auto":
            t["precision"] = "mixed_float16" if t["mixed_precision"] else "float32"   # the older boolean spelling
        if backbone is not None and t.get("batch_size_per_backbone"):
            from ..backbones import get_backbone

            per = {get_backbone(str(k)).name: v for k, v in t["batch_size_per_backbone"].items()}
            t["batch_size"] = int(per.get(get_backbone(backbone).name, t["batch_size"]))
        return cls(**{f.name: t[f.name] for f in fields(cls)})


def default_options(strategy: str, **overrides) -> dict:
    """A strategy's options with the schema's defaults, as a trial gets them (hybrids: `{"svm": {...}}`)."""
    from ..config import schema
    from ..config.load import strategy_options

    opts = strategy_options(schema.Strategies(), strategy)
    if strategy.startswith("hybrid_"):
        kind = strategy.split("_", 1)[1]
        return {kind: {**opts[kind], **overrides}}
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

    def curves(self, train_idx, val_idx, candidates: list[dict], epochs: int) -> list[list[float]]:
        """`curve` of every candidate on one fold (strategies may train them together)."""
        return [self.curve(train_idx, val_idx, c, epochs) for c in candidates]

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
