"""Every layer trains from the initial weights (also the CBR baselines from scratch).

The image is the input, so each epoch draws a fresh rotation angle for every training
item (the paper's augmentation); nothing can be cached.
"""
from __future__ import annotations

from ..backbones import count_params
from .base import register, set_trainable
from .network import KerasStrategy


@register
class FullFinetune(KerasStrategy):
    """Every layer trained; BatchNorm per `training.batchnorm`; fresh augmentation every epoch."""

    name = "full_finetune"
    augmentation_mode = "fresh"

    def apply_plan(self) -> None:
        set_trainable(self.ctx.base, True, self.settings.batchnorm)

    def build(self):
        import keras

        self.apply_plan()
        inp = keras.Input(shape=self.ctx.base.input_shape[1:], name="image")
        return inp, self.head(self.ctx.base(inp), self.ctx.seed)

    def inputs(self, idx, draws):
        return [self.ctx.bank.batch(idx, draws)]

    def params(self) -> dict:
        return {"trainable_params": count_params(self.model.trainable_weights),
                "total_params": int(self.model.count_params()), "batchnorm": self.settings.batchnorm}
