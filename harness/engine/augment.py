"""Rotation, the fixed zoom and the backbone's scaling on the device, in one bilinear resampling.

`augment(grey, angles, zoom, preprocess_mode)` is the device half of the image pipeline
(see `harness.engine.inputs`) for the strategies that train through the image (full
fine-tuning, the CBR baselines, source pretraining): rotate each preprocessed grey image by
its angle about the centre, keep the central `zoom` of each axis (the authors' crop), clip
to [0, 255], copy to three channels and apply the backbone's `preprocess_input`. Written in
`keras.ops` (`keras.ops.image.affine_transform`, bilinear with nearest-edge fill), it runs
as the model's first layer (`device_augment_layer`), inside the compiled training step on
any backend: the host sends grey images and one angle per image, never rotated copies.
Frozen-feature strategies rotate their bank of copies once, on the CPU (`ImageBank`), since
the frozen part's outputs are cached per copy.

Output pixel q samples the input at c + zoom · R(angle) · (q − c), c the image centre: the
mapping of the CPU reference `rotate_and_zoom` (SciPy), which it matches up to float
rounding (`tests/test_harness_engine.py`: within 1e-4 of the value range).
"""
from __future__ import annotations

from ..backbones import preprocess_tensor


def affine_rows(angles, zoom: float, size: int):
    """Per image, the 8 numbers of `keras.ops.image.affine_transform` mapping output (x, y) to input."""
    from keras import ops

    theta = ops.multiply(ops.cast(angles, "float32"), 3.141592653589793 / 180.0)
    cos, sin = ops.multiply(ops.cos(theta), zoom), ops.multiply(ops.sin(theta), zoom)
    c = (size - 1) / 2.0
    zeros = ops.zeros_like(cos)
    # x_in = cos·x + sin·y + c − (cos + sin)·c ; y_in = −sin·x + cos·y + c − (cos − sin)·c
    return ops.stack([cos, sin, c - (cos + sin) * c, -sin, cos, c - (cos - sin) * c, zeros, zeros], axis=1)


def augment(grey, angles, zoom: float, preprocess_mode: str, rotate: bool = True):
    """Model-ready (n, S, S, 3) images from preprocessed grey (n, S, S) images and angles in degrees.

    `rotate=False` (augmentation off) skips the rotation; the zoom still applies unless it is 1.
    """
    from keras import ops

    x = ops.expand_dims(ops.cast(grey, "float32"), -1)
    if rotate or zoom != 1.0:
        if not rotate:
            angles = ops.zeros((ops.shape(x)[0],), dtype="float32")
        x = ops.image.affine_transform(x, affine_rows(angles, zoom, int(x.shape[1])), interpolation="bilinear",
                                       fill_mode="nearest", data_format="channels_last")
    x = ops.clip(x, 0.0, 255.0)
    return preprocess_tensor(preprocess_mode, ops.concatenate([x, x, x], axis=-1))


def device_augment_layer(preprocess_mode: str, zoom: float, rotate: bool, name: str = "device_augment"):
    """A Keras layer: (grey images (n, S, S), angles (n,)) → model-ready images, on the device, in float32."""
    import keras

    class DeviceAugment(keras.layers.Layer):
        """`augment` as a layer, so it runs inside the compiled step (and is cloned with the model)."""

        def __init__(self, preprocess_mode: str, zoom: float, rotate: bool, **kwargs):
            kwargs["dtype"] = "float32"
            super().__init__(**kwargs)
            self.preprocess_mode, self.zoom, self.rotate = str(preprocess_mode), float(zoom), bool(rotate)

        def call(self, grey, angles):
            return augment(grey, angles, self.zoom, self.preprocess_mode, rotate=self.rotate)

        def compute_output_shape(self, grey_shape, angles_shape):
            return tuple(grey_shape) + (3,)

        def get_config(self) -> dict:
            return {**super().get_config(), "preprocess_mode": self.preprocess_mode, "zoom": self.zoom,
                    "rotate": self.rotate}

    return DeviceAugment(preprocess_mode, zoom, rotate, name=name)
