"""Shared part of the Keras strategies: the Ho & Kim head and the wiring to the engine.

Each Keras strategy builds one model per trial (its policy: inputs, frozen part, trained
part, BatchNorm mode), compiled once; every (fold, learning rate) run restores the initial
state and runs `engine.fit_epochs`. Cross-validation can train a fold's learning rates
together (`engine.RunGroup`: the same batches, one step for all, the same numbers as one
run after another); by default only on an accelerator.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..engine import CompiledModel, OptimizerSettings, RunGroup, fit_epochs, predict_rows
from .base import Strategy


class KerasStrategy(Strategy):
    """A Keras model trained with SGD; subclasses say what it is built from and what trains."""

    #: "bank" (cached-feature strategies: the pre-rotated bank) or "fresh" (a new angle every epoch)
    augmentation_mode: ClassVar[str] = "bank"
    #: train a fold's learning rates together in one model: True, False (one run after another, same
    #: numbers) or None (the trial's `ctx.group_runs`: on an accelerator only, see harness.engine.group)
    group_runs: ClassVar[bool | None] = None

    def __init__(self, ctx, settings, options):
        super().__init__(ctx, settings, options)
        self.lrs = [float(lr) for lr in options["lrs"]]
        self.compiled: CompiledModel | None = None
        self.head_layers: list = []
        self._group: RunGroup | None = None
        self.runs_per_step = 1

    @property
    def model(self):
        return None if self.compiled is None else self.compiled.model

    def candidates(self) -> list[dict]:
        return [{"lr": lr} for lr in self.lrs]

    # ---- policy hooks
    def build(self):
        """(inputs, outputs) of the model to train; sets which layers are trainable."""
        raise NotImplementedError

    def apply_plan(self) -> None:
        """Re-assert this strategy's trainable flags (layers may be shared with another strategy's model)."""

    def inputs(self, idx: np.ndarray, draws: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def predict_batch_rows(self) -> int:
        """Rows per model call when predicting (bounds activation memory for image inputs)."""
        return max(self.settings.batch_size, 64)

    # ---- mechanics, via the engine
    def head(self, x, seed: int):
        """Dense(256, ReLU) → Dropout(0.5) → Dense(3, softmax in float32), seeded.

        """
        from keras import initializers, layers

        self.head_layers = [
            layers.Dense(256, activation="relu", name="head_dense",
                         kernel_initializer=initializers.GlorotUniform(seed=seed)),
            layers.Dropout(0.5, seed=seed, name="head_dropout"),
            layers.Dense(3, activation="softmax", dtype="float32", name="head_out",
                         kernel_initializer=initializers.GlorotUniform(seed=seed + 1)),
        ]
        for layer in self.head_layers:
            x = layer(x)
        return x

    def _ensure_model(self) -> None:
        if self.compiled is None:
            import keras

            keras.utils.set_random_seed(self.ctx.seed)
            inputs, outputs = self.build()
            s = self.settings
            self.compiled = CompiledModel(keras.Model(inputs, outputs),
                                          OptimizerSettings(s.momentum, s.nesterov, s.decay), self.lrs[0],
                                          steps_per_execution=self.ctx.steps_per_execution)

    def reset(self, lr: float, train_idx=None) -> None:
        """A fresh run: the initial state (weights, BatchNorm statistics, dropout RNG, optimizer), rate `lr`."""
        self._ensure_model()
        self.apply_plan()
        self.compiled.restore(lr)

    def train(self, train_idx, epochs: int, val_idx=None):
        items = self.training_items(np.asarray(train_idx))
        validate = None
        if val_idx is not None and len(val_idx):
            val_idx = np.asarray(val_idx, dtype=np.int64)
            validate = lambda: self.score(val_idx, self.predict_scores(val_idx))  # noqa: E731
        return self._fit(self.compiled, items, epochs, validate)

    def _fit(self, compiled, items, epochs: int, validate, runs: int = 1):
        """`engine.fit_epochs` with this strategy's inputs and settings; counts what it trained (per run)."""
        result = fit_epochs(compiled, self.inputs, items, self.ctx.y, epochs=epochs,
                            batch_size=self.settings.batch_size, seed=self.ctx.seed,
                            augmentation=self.ctx.bank.augmentation, mode=self.augmentation_mode, validate=validate)
        self.train_seconds += result.seconds
        self.images_trained += result.images * runs
        return result

    def curves(self, train_idx, val_idx, candidates: list[dict], epochs: int) -> list[list[float]]:
        grouped = self.ctx.group_runs if self.group_runs is None else self.group_runs
        if not grouped or len(candidates) < 2 or val_idx is None or not len(val_idx):
            return super().curves(train_idx, val_idx, candidates, epochs)
        self.reset(candidates[0]["lr"], train_idx)       # the single model now holds the runs' initial state
        if self._group is None or self._group.size != len(candidates):
            s = self.settings
            self._group = RunGroup(self.compiled.model, OptimizerSettings(s.momentum, s.nesterov, s.decay),
                                   len(candidates), steps_per_execution=self.ctx.steps_per_execution)
        group = self._group
        group.load_from(self.compiled.model, [c["lr"] for c in candidates])
        self.runs_per_step = group.size
        val_idx = np.asarray(val_idx, dtype=np.int64)

        def validate() -> list[float]:
            scores = predict_rows(group, self.inputs, val_idx, self.predict_batch_rows())
            return [self.score(val_idx, s) for s in scores]

        result = self._fit(group, self.training_items(np.asarray(train_idx)), epochs, validate, runs=group.size)
        return [list(run) for run in zip(*result.curve)]

    def curve(self, train_idx, val_idx, candidate: dict, epochs: int) -> list[float]:
        self.reset(candidate["lr"], train_idx)
        return self.train(train_idx, epochs, val_idx).curve

    def fit(self, train_idx, candidate: dict, epochs: int) -> None:
        self.reset(candidate["lr"], train_idx)
        self.train(train_idx, epochs)

    def predict_scores(self, idx) -> np.ndarray:
        return predict_rows(self.compiled, self.inputs, np.asarray(idx, dtype=np.int64), self.predict_batch_rows())
