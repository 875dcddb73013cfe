"""Backbone registry: which Keras model, its input size, its preprocessing and its blocks.

Every backbone knows where its "last block" starts, so `depth=1` (unfreeze the last
block) means the same thing for every model. The boundaries for the nine Ho & Kim (2021)
backbones are the published ones (first trainable layer at depth 1/2/3, from the authors'
code, see docs/harness.md); any other `keras.applications` name is accepted with a
structural heuristic, or an explicit boundary layer.

The module imports Keras lazily so that `harness --help` stays fast, and uses no
TensorFlow API, so it runs on the JAX and PyTorch backends too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Boundary:
    """Where a block starts, resolved to an index into `model.layers`.

    kind: "at" (first layer named `value` or prefixed `value_`), "after" (the layer after the
    one named `value`), or "nth_add" (the n-th Add layer, 1-based: Keras 2 named them add_1..,
    Keras 3 names them add, add_1.., so the count is the stable key).
    """

    kind: str
    value: str

    def resolve(self, model) -> int:
        names = [layer.name for layer in model.layers]
        if self.kind == "at":
            if self.value in names:
                return names.index(self.value)
            for i, name in enumerate(names):
                if name.startswith(self.value + "_"):
                    return i
        elif self.kind == "after":
            if self.value in names:
                return names.index(self.value) + 1
        elif self.kind == "nth_add":
            adds = [i for i, layer in enumerate(model.layers) if type(layer).__name__ == "Add"]
            n = int(self.value)
            if 1 <= n <= len(adds):
                return adds[n - 1]
        raise ValueError(f"block boundary {self.kind}:{self.value} not found in model {model.name!r}")


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone: how to build it, its native input size, preprocessing and block boundaries."""

    name: str
    keras_name: str | None            # keras.applications attribute; None for the CBR family
    input_size: int = 224
    preprocess_mode: str = "tf"       # keras.applications module whose preprocess_input applies
    kwargs: dict = field(default_factory=dict)
    boundaries: tuple[Boundary, ...] = ()   # depth 1, 2, 3 ...
    cbr: tuple | None = None          # (kernel, filters) for the CBR family

    @property
    def supports_imagenet(self) -> bool:
        return self.keras_name is not None

    def build(self, input_size: int | None = None, weights: str | None = None):
        """A headless Keras model with global average pooling (output: (batch, features))."""
        import keras

        size = int(input_size or self.input_size)
        shape = (size, size, 3)
        if self.cbr is not None:
            if weights not in (None, "none"):
                raise ValueError(f"{self.name} has no published weights; use weights 'none', a file or source:")
            return build_cbr(self.name, shape, *self.cbr)
        ctor = getattr(keras.applications, self.keras_name)
        return ctor(input_shape=shape, include_top=False, weights=weights, pooling="avg", **self.kwargs)

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """Backbone-specific scaling of [0, 255] RGB images (a copy; input untouched)."""
        x = np.array(images, dtype="float32", copy=True)
        if self.preprocess_mode == "unit":
            return x / 255.0
        import keras

        module = getattr(keras.applications, self.preprocess_mode)
        return np.asarray(module.preprocess_input(x), dtype="float32")

    def preprocess_tensor(self, images):
        """`preprocess` for a backend tensor (inside compiled steps); the same float32 operations."""
        return preprocess_tensor(self.preprocess_mode, images)

    def boundary_index(self, model, depth: int = 1) -> int:
        """Index in `model.layers` of the first layer trained at this depth (depth >= 1)."""
        if depth < 1:
            raise ValueError("depth must be >= 1 for a block boundary (depth 0 trains only the head)")
        if depth <= len(self.boundaries):
            return self.boundaries[depth - 1].resolve(model)
        return heuristic_boundary(model, depth)


def heuristic_boundary(model, depth: int = 1) -> int:
    """Start of the depth-th last block for models without published boundaries.

    Uses the last layers whose names share a block prefix (e.g. `block7a_`, `stage4_`,
    `conv5_block3_`); the block is the last run of layers with the same prefix.
    """
    prefixes = []
    for i, layer in enumerate(model.layers):
        match = re.match(r"^([a-zA-Z]*\d+[a-z]?(?:_block\d+)?)_", layer.name)
        prefixes.append(match.group(1) if match else None)
    starts, last = [], object()
    for i, p in enumerate(prefixes):
        if p is not None and p != last:
            starts.append(i)
        if p is not None:
            last = p
    if len(starts) < depth:
        raise ValueError(f"cannot find {depth} blocks in {model.name!r}; give first_trainable: LAYER in the config")
    return starts[-depth]


def build_cbr(name: str, input_shape: tuple[int, int, int], kernel: int, filters: tuple[int, ...]):
    """CBR baseline (Raghu et al. 2019): [Conv → BatchNorm → ReLU → MaxPool(2)] × n → GAP."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(f, kernel, padding="same", use_bias=False, name=f"cbr{i}_conv")(x)
        x = layers.BatchNormalization(name=f"cbr{i}_bn")(x)
        x = layers.ReLU(name=f"cbr{i}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"cbr{i}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name=name.replace("-", "_").lower())


def _cbr_boundaries(n: int) -> tuple[Boundary, ...]:
    return tuple(Boundary("at", f"cbr{n - d}") for d in range(min(n, 3)))


def _b(*items: str) -> tuple[Boundary, ...]:
    out = []
    for item in items:
        kind, _, value = item.partition(":")
        out.append(Boundary(kind, value))
    return tuple(out)


# The nine backbones of Ho & Kim (2021) and the CBR baselines. Boundaries: first trainable
# layer at depth 1/2/3 in the authors' public code (itsnamgyu/cardiac-research), see docs/harness.md.
_SPECS = [
    BackboneSpec("MobileNetV1-0.25", "MobileNet", 224, "mobilenet", {"alpha": 0.25},
                 _b("at:conv_dw_13", "at:conv_pad_12", "at:conv_dw_11")),
    BackboneSpec("MobileNetV2-0.35", "MobileNetV2", 224, "mobilenet_v2", {"alpha": 0.35},
                 _b("at:block_16_expand", "at:block_15_expand", "at:block_14_expand")),
    BackboneSpec("VGG16", "VGG16", 224, "vgg16", {},
                 _b("at:block5_conv1", "at:block4_conv1", "at:block3_conv1")),
    BackboneSpec("InceptionV3", "InceptionV3", 299, "inception_v3", {},
                 _b("at:mixed9", "at:mixed8", "at:mixed7")),
    BackboneSpec("ResNet50V2", "ResNet50V2", 224, "resnet_v2", {},
                 _b("at:conv5_block3", "at:conv5_block2", "at:conv5_block1")),
    BackboneSpec("InceptionResNetV2", "InceptionResNetV2", 299, "inception_resnet_v2", {},
                 _b("at:block8_9_ac", "at:block8_8_ac", "at:block8_7_ac")),
    BackboneSpec("DenseNet121", "DenseNet121", 224, "densenet", {},
                 _b("at:conv5_block1", "at:conv4_block1", "at:conv3_block1")),
    BackboneSpec("NASNetMobile", "NASNetMobile", 224, "nasnet", {},
                 _b("after:normal_concat_11", "after:normal_concat_10", "after:normal_concat_9")),
    BackboneSpec("Xception", "Xception", 299, "xception", {},
                 _b("nth_add:12", "nth_add:11", "nth_add:10")),
    BackboneSpec("CBR-LargeT", None, 224, "unit", cbr=(7, (32, 64, 128, 256, 512)),
                 boundaries=_cbr_boundaries(5)),
    BackboneSpec("CBR-Small", None, 224, "unit", cbr=(7, (32, 64, 128, 256)),
                 boundaries=_cbr_boundaries(4)),
    BackboneSpec("CBR-Tiny", None, 224, "unit", cbr=(5, (64, 128, 256, 512)),
                 boundaries=_cbr_boundaries(4)),
]
REGISTRY: dict[str, BackboneSpec] = {s.name: s for s in _SPECS}
HO_KIM_BACKBONES = tuple(s.name for s in _SPECS[:9])
CBR_BACKBONES = tuple(s.name for s in _SPECS[9:])

# keras.applications model -> preprocess module, for names outside the registry.
_PREPROCESS_MODULES = {
    "MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2", "MobileNetV3Small": "mobilenet_v3",
    "MobileNetV3Large": "mobilenet_v3", "VGG16": "vgg16", "VGG19": "vgg19", "InceptionV3": "inception_v3",
    "InceptionResNetV2": "inception_resnet_v2", "Xception": "xception", "NASNetMobile": "nasnet",
    "NASNetLarge": "nasnet", "ResNet50": "resnet50", "ResNet101": "resnet", "ResNet152": "resnet",
    "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2", "ResNet152V2": "resnet_v2",
    "DenseNet121": "densenet", "DenseNet169": "densenet", "DenseNet201": "densenet",
    "EfficientNetB0": "efficientnet", "EfficientNetV2B0": "efficientnet_v2", "ConvNeXtTiny": "convnext",
}
_NATIVE_SIZE = {"InceptionV3": 299, "InceptionResNetV2": 299, "Xception": 299, "NASNetLarge": 331}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", name.lower())


_ALIASES = {_normalise(k): k for k in REGISTRY} | {
    "mobilenet": "MobileNetV1-0.25", "mobilenetv1": "MobileNetV1-0.25",
    "mobilenetv2": "MobileNetV2-0.35", "cbrlarget": "CBR-LargeT",
}


def preprocess_tensor(mode: str, images):
    """A backbone's scaling (`BackboneSpec.preprocess_mode`) of [0, 255] RGB backend tensors."""
    from keras import ops

    if mode == "unit":
        return ops.divide(images, 255.0)
    import keras

    return getattr(keras.applications, mode).preprocess_input(images)


def get_backbone(name: str, **kwargs: Any) -> BackboneSpec:
    """Registry lookup, case- and dash-insensitive; any `keras.applications` name also works.

    kwargs (e.g. alpha=0.5, first_trainable="block7a_expand_conv") make a variant.
    """
    key = _ALIASES.get(_normalise(name))
    if key is not None and not kwargs:
        return REGISTRY[key]
    first = kwargs.pop("first_trainable", None)
    if key is not None:
        base = REGISTRY[key]
        bounds = _b(f"at:{first}") if first else base.boundaries
        return BackboneSpec(base.name, base.keras_name, base.input_size, base.preprocess_mode,
                            {**base.kwargs, **kwargs}, bounds, base.cbr)
    import keras

    if not callable(getattr(keras.applications, name, None)) or name[:1].islower():
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown backbone {name!r}: use one of {known} or a keras.applications model name")
    mode = _PREPROCESS_MODULES.get(name, "imagenet_utils")
    return BackboneSpec(name, name, _NATIVE_SIZE.get(name, 224), mode, dict(kwargs),
                        _b(f"at:{first}") if first else ())


def check_backbone_name(name: str) -> None:
    """Raise ValueError for an unknown name (used by config validation before training)."""
    get_backbone(name)


def count_params(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def _crossing(model, index: int) -> list:
    early = {id(layer) for layer in model.layers[:index]}
    crossing, seen = [], set()
    for layer in model.layers[index:]:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation
                if id(producer) in early and id(tensor) not in seen:
                    seen.add(id(tensor))
                    crossing.append(tensor)
    return crossing


def split_at(model, index: int):
    """Split a functional model before `model.layers[index]`.

    Returns (frozen, tail): `frozen` maps the model input to every tensor that crosses the
    boundary, `tail` maps those tensors to the model output. Both share layer objects with
    `model`, so training the tail trains the model. Weightless layers right at the boundary
    (e.g. InceptionV3's `mixed9` concatenation) may move to the frozen side when that leaves
    fewer tensors to cache; nothing trainable changes side.
    """
    import keras

    best = index
    crossing = _crossing(model, index)
    j = index
    while j < len(model.layers) - 1 and not model.layers[j].weights:
        j += 1
        candidate = _crossing(model, j)
        if candidate and len(candidate) < len(crossing):
            best, crossing = j, candidate
    if not crossing:
        raise ValueError(f"no tensor crosses layer {index} of {model.name!r}")
    outputs = crossing if len(crossing) > 1 else crossing[0]
    frozen = keras.Model(model.inputs, outputs, name=f"{model.name}_frozen")
    tail = keras.Model(outputs, model.outputs[0], name=f"{model.name}_tail")
    return frozen, tail
