"""Depth >= 1: the last block(s) and the head train; everything before the boundary is frozen.

The head starts from the feature-extractor head selected by CV (the protocol runs that
selection first: `warm_start`) and refitted on the same training rows as the run. On a
random-init base the unfrozen block's inputs are standardised (`TrialContext.standardiser`). The
frozen part runs in inference mode on the bank draws, so its output at the boundary is
cached once per trial; BatchNorm layers in the unfrozen block follow `training.batchnorm`
('train': batch statistics while training and moving averages updated, as Keras 2.2 did
for trainable layers; 'frozen': inference mode, statistics and scale/offset fixed).
"""
from __future__ import annotations

import numpy as np

from ..backbones import count_params
from .base import register, set_trainable
from .frozen import FeatureExtractor
from .network import KerasStrategy


@register
class PartialFinetune(KerasStrategy):
    """Last block(s) + head, the head warm-started from the selected feature-extractor head."""

    name = "partial_finetune"

    def __init__(self, ctx, settings, options):
        super().__init__(ctx, settings, options)
        self.depth = int(options["depth"])
        self.head_start = FeatureExtractor(ctx, settings, {"lrs": options["head_lrs"]})
        self.warm: dict | None = None
        self._warm_heads: dict = {}

    def warm_start(self) -> FeatureExtractor:
        return self.head_start

    def use_warm_start(self, selection: dict) -> None:
        self.warm = selection

    @property
    def frozen(self):
        return self.ctx.split(self.depth)[0]

    @property
    def tail(self):
        return self.ctx.split(self.depth)[1]

    def prepare(self, train_idx) -> None:
        if self.ctx.cached:
            self.ctx.train_on(train_idx)
            self.ctx.boundary(self.depth)
        self.ctx.standardiser(self.depth, train_idx)        # random init: the unfrozen block's inputs

    def _warm_head(self, train_idx) -> list:
        if self.warm is None:
            raise RuntimeError("partial_finetune needs the warm-start selection first (harness.protocol.run_protocol)")
        key = tuple(np.asarray(train_idx).tolist())
        if key not in self._warm_heads:
            self.head_start.fit(train_idx, self.warm["candidate"], self.warm["epochs"])
            self._warm_heads[key] = self.head_start.head_weights()
        return self._warm_heads[key]

    def apply_plan(self) -> None:
        set_trainable(self.frozen, False)
        set_trainable(self.tail, True, self.settings.batchnorm)

    def build(self):
        import keras

        self.apply_plan()
        if self.ctx.cached:
            inp = [keras.Input(shape=t.shape[1:]) for t in self.frozen.outputs]
            inputs = inp if len(inp) > 1 else inp[0]
            x = self.tail(self.ctx.standardise(inputs, self.depth))
        else:
            inputs = keras.Input(shape=self.ctx.base.input_shape[1:], name="image")
            x = self.tail(self.ctx.standardise(self.frozen(inputs, training=False), self.depth))
        return inputs, self.head(x, self.ctx.seed)

    def reset(self, lr: float, train_idx=None) -> None:
        head = self._warm_head(train_idx)        # may train the feature-extractor head first
        super().reset(lr, train_idx)
        for layer, w in zip(self.head_layers, head):
            layer.set_weights(w)

    def inputs(self, idx, draws):
        if self.ctx.cached:
            return self.ctx.gather(self.ctx.boundary(self.depth), idx, draws)
        return [self.ctx.bank.batch(idx, draws)]

    def params(self) -> dict:
        head = count_params(w for layer in self.head_layers for w in layer.trainable_weights)
        out = {"trainable_params": count_params(self.model.trainable_weights),
               "total_params": self.ctx.base.count_params() + head,
               "boundary": self.ctx.boundary_identity(self.depth), "batchnorm": self.settings.batchnorm}
        if self.warm is not None:
            out["warm_start"] = {"lr": self.warm["candidate"]["lr"], "epochs": self.warm["epochs"]}
        return out
