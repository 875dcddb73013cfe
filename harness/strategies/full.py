"""Every layer trains from the initial weights (also the CBR baselines from scratch).

The image is the input, so each epoch draws a fresh rotation angle for every training
item (the paper's augmentation); nothing can be cached. The rotation, the zoom and the
backbone's scaling run on the device, as the model's first layer
(`harness.engine.augment`): the model's inputs are the preprocessed grey images and one
angle per image, so no rotated image is made on the CPU.
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

        from ..engine.augment import device_augment_layer

        self.apply_plan()
        if not self.ctx.augment_on_device:
            inp = keras.Input(shape=self.ctx.base.input_shape[1:], name="image")
            return inp, self.head(self.ctx.base(inp), self.ctx.seed)
        size = self.ctx.base.input_shape[1]
        grey = keras.Input(shape=(size, size), name="grey")
        angle = keras.Input(shape=(), name="angle")
        aug = self.ctx.bank.augmentation
        images = device_augment_layer(self.ctx.backbone.preprocess_mode, aug.zoom, aug.enabled)(grey, angle)
        return [grey, angle], self.head(self.ctx.base(images), self.ctx.seed)

    def inputs(self, idx, draws):
        bank = self.ctx.bank
        if not self.ctx.augment_on_device:
            return [bank.batch(idx, draws)]
        return [bank.grey(idx), bank.angles(idx, draws)]

    def params(self) -> dict:
        return {"trainable_params": count_params(self.model.trainable_weights),
                "total_params": int(self.model.count_params()), "batchnorm": self.settings.batchnorm}
