"""On-disk activation cache: a frozen network's forward pass is computed once.

An entry is keyed by everything that determines its numbers (`activation_key`): the
backbone and its options, the input size, the boundary (the first trainable layer's name
and the names of the layers whose outputs cross it; "pooled" for the base's output), the
weights identity (file hash, source run file hash, or random-init seed), the data
fingerprint, the image pipeline
(preprocessing, rotation range, zoom, augmentation seed), the augmentation draw, the rows
rotated draws were computed for, the precision policy, and the Keras and backend versions.
The dense head, SVM, random forest, every fold and every learning rate then read the same
arrays (memory-mapped .npy files, written atomically).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


def cache_key(**parts) -> str:
    """Stable short hash of the named parts (order-independent, JSON-serialisable values)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def backend_version() -> str:
    """Name and version of the active Keras backend's library (e.g. 'tensorflow 2.21.0')."""
    from importlib import metadata

    import keras

    backend = keras.backend.backend()
    for dist in {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax",), "torch": ("torch",)}.get(backend, ()):
        try:
            return f"{backend} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return backend


def precision_policy() -> str:
    """The global Keras dtype policy now in force (e.g. 'float32', 'mixed_float16')."""
    import keras

    return keras.config.dtype_policy().name


def activation_key(*, backbone: str, backbone_options: dict, input_size: int, boundary: dict, weights: str,
                   data: str, pipeline: dict, draw: int, rows: list[int] | None = None) -> str:
    """Cache key of one activation array: every input that determines its content."""
    import keras

    parts = dict(backbone=backbone, backbone_options=backbone_options, input_size=input_size, boundary=boundary,
                 weights=weights, data=data, pipeline=pipeline, draw=draw, precision=precision_policy(),
                 keras=keras.__version__, backend=backend_version())
    if rows is not None:
        parts["rows"] = cache_key(rows=list(rows))
    return cache_key(**parts)


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """Write to a temp file in the same folder, then os.replace: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeatureCache:
    """Folder of cached activations; `get` computes on a miss and counts hits and misses."""

    def __init__(self, root: str | Path, dtype: str = "float32", enabled: bool = True):
        self.root = Path(root)
        self.dtype = dtype
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def _paths(self, key: str, n: int) -> list[Path]:
        return [self.root / key[:2] / f"{key}_t{j}.npy" for j in range(n)]

    def get(self, key: str, compute: Callable[[], list[np.ndarray]], n_tensors: int = 1) -> list[np.ndarray]:
        """Arrays for `key` (one per boundary tensor): loaded if cached, else computed and saved."""
        paths = self._paths(key, n_tensors)
        if self.enabled and all(p.exists() for p in paths):
            try:
                arrays = [np.load(p, mmap_mode="r") for p in paths]
                self.hits += 1
                return arrays
            except (ValueError, OSError):  # a damaged file: recompute it
                pass
        arrays = [np.asarray(a, dtype=self.dtype) for a in compute()]
        self.misses += 1
        if self.enabled:
            for p, a in zip(paths, arrays):
                atomic_save_npy(p, a)
        return arrays

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*.npy")) if self.root.exists() else 0
