"""Initial weights of a backbone: `imagenet`, `none`, a weights file, or `source:<run>`.

- `imagenet` goes through keras.applications itself, so the download and its cache under
  $KERAS_HOME/models are Keras's own (no network is needed once the file is there).
- `none` is random initialisation.
- a path to a `.weights.h5` file is loaded into the freshly built base.
- `source:<run>` is a base the harness trained itself on another domain and saved in a run
  folder (`base.weights.h5` + `source.json`); the sweep creates these from the config's
  `sources:` section, or `<run>` may be the path of such a folder.

Every result row carries `weights_label`, so a non-ImageNet run is never read as one.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .backbones import BackboneSpec

SOURCE_FILE = "base.weights.h5"
SOURCE_META = "source.json"


@dataclass(frozen=True)
class WeightsSpec:
    """Parsed weights option; `kind` is imagenet, none, file or source."""

    kind: str
    value: str = ""

    @classmethod
    def parse(cls, text: str | None) -> "WeightsSpec":
        if text is None or str(text).lower() in ("none", "random", "null", ""):
            return cls("none")
        text = str(text)
        if text.lower() == "imagenet":
            return cls("imagenet")
        if text.startswith("source:"):
            name = text.split(":", 1)[1]
            if not name:
                raise ValueError("weights 'source:' needs a source name or run folder, e.g. source:synth15")
            return cls("source", name)
        if text.endswith(".h5") or text.endswith(".keras"):
            return cls("file", text)
        raise ValueError(f"unknown weights {text!r}: use imagenet, none, a .weights.h5 path or source:<name>")

    def __str__(self) -> str:
        return {"imagenet": "imagenet", "none": "none"}.get(self.kind, f"{self.kind}:{self.value}")


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def source_dir(spec: WeightsSpec, backbone: BackboneSpec, input_size: int, sources_root: str | Path | None) -> Path:
    """Folder holding a source run's base weights for this backbone and input size."""
    candidate = Path(spec.value)
    if candidate.is_dir() and (candidate / SOURCE_FILE).exists():
        return candidate
    if sources_root is None:
        raise ValueError(f"weights {spec} need a sources folder (run through `harness sweep`)")
    return Path(sources_root) / spec.value / f"{backbone.name}-{input_size}"


def weights_identity(spec: WeightsSpec, backbone: BackboneSpec, input_size: int,
                     sources_root: str | Path | None = None, seed: int = 0) -> str:
    """Cache-key part naming exactly which numbers initialise the base (random ones: by seed)."""
    if spec.kind == "imagenet":
        return "imagenet"
    if spec.kind == "none":
        return f"none:seed{seed}"
    path = Path(spec.value) if spec.kind == "file" else source_dir(spec, backbone, input_size, sources_root) / SOURCE_FILE
    return f"{spec.kind}:{file_digest(path)}"


def weights_label(spec: WeightsSpec, sources_root: str | Path | None = None, backbone: BackboneSpec | None = None,
                  input_size: int | None = None) -> str:
    """Human label for result rows, e.g. 'source:synth15 (harness-trained on synthetic:1.5T...)'."""
    if spec.kind == "imagenet":
        return "imagenet (keras.applications)"
    if spec.kind == "none":
        return "none (random initialisation)"
    if spec.kind == "file":
        return f"file {Path(spec.value).name}"
    try:
        meta = json.loads((source_dir(spec, backbone, input_size, sources_root) / SOURCE_META).read_text())
        return f"source:{spec.value} (harness-trained on {meta.get('data', '?')}, not ImageNet)"
    except (OSError, ValueError, TypeError):
        return f"source:{spec.value} (harness-trained, not ImageNet)"


def build_base(backbone: BackboneSpec, spec: WeightsSpec, input_size: int, sources_root: str | Path | None = None):
    """The headless base model with its initial weights applied."""
    if spec.kind == "imagenet":
        if not backbone.supports_imagenet:
            raise ValueError(f"{backbone.name} has no ImageNet weights; use none, a file or source:")
        return backbone.build(input_size, weights="imagenet")
    model = backbone.build(input_size, weights=None)
    if spec.kind == "file":
        path = Path(spec.value)
        if not path.exists():
            raise FileNotFoundError(f"weights file {path} not found; give an existing .weights.h5 path")
        model.load_weights(str(path))
    elif spec.kind == "source":
        path = source_dir(spec, backbone, input_size, sources_root) / SOURCE_FILE
        if not path.exists():
            raise FileNotFoundError(f"source weights {path} not found; define source {spec.value!r} in the "
                                    f"config's sources: section or point source: at a run folder")
        model.load_weights(str(path))
    return model


def keras_home() -> Path:
    """Where keras.applications caches downloads ($KERAS_HOME, default ~/.keras)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def sublayers(model) -> list:
    """Every layer inside `model`, nested models included (each once), in layer order."""
    found, seen = [], set()

    def walk(layer) -> None:
        for sub in getattr(layer, "layers", []):
            if id(sub) not in seen:
                seen.add(id(sub))
                found.append(sub)
                walk(sub)

    walk(model)
    return found


def batchnorm_layers(model) -> list:
    """Every BatchNormalization layer inside `model`, nested models included, in layer order."""
    from keras import layers

    return [layer for layer in sublayers(model) if isinstance(layer, layers.BatchNormalization)]
