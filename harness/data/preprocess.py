"""Ho & Kim 2021 preprocessing (seed 000, Methods): central crop, percentile rescale, resize, 3 channels;
OAP/OBS oversampling and rotation augmentation, applied after the split."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from .dataset import LABELS


@dataclass(frozen=True)
class Preprocessing:
    """Turns raw (N, H, W) intensities into (N, size, size, channels) float32 in [0, 255]."""

    crop_fraction: float = 0.4                      # outer 40 % removed (20 % per side), both axes
    percentiles: tuple[float, float] | None = (2.0, 98.0)
    size: int = 224
    channels: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.crop_fraction < 1:
            raise ValueError(f"crop_fraction must be in [0, 1), got {self.crop_fraction}")
        if self.size < 8:
            raise ValueError(f"size must be at least 8, got {self.size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")

    def apply(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 3:
            raise ValueError(f"expected images (N, H, W), got shape {x.shape}")
        x = central_crop(x, self.crop_fraction)
        x = rescale(x, self.percentiles)
        x = resize(x, self.size)
        x = np.clip(x, 0.0, 255.0)
        return np.repeat(x[..., None], self.channels, axis=-1) if self.channels else x

    def key(self) -> str:
        d = asdict(self)
        p = "none" if d["percentiles"] is None else "-".join(f"{v:g}" for v in d["percentiles"])
        return f"crop{self.crop_fraction:g}_p{p}_s{self.size}_c{self.channels}"


def central_crop(x: np.ndarray, fraction: float) -> np.ndarray:
    """Keep the central (1 - fraction) of each axis, where the heart is."""
    h, w = x.shape[1:3]
    dh, dw = int(round(h * fraction / 2)), int(round(w * fraction / 2))
    return x[:, dh:h - dh, dw:w - dw]


def rescale(x: np.ndarray, percentiles: tuple[float, float] | None) -> np.ndarray:
    """Per-image percentile window to [0, 255] (min-max when percentiles is None)."""
    flat = x.reshape(len(x), -1)
    lo, hi = ((flat.min(1), flat.max(1)) if percentiles is None
              else np.percentile(flat, percentiles, axis=1))
    span = np.where(hi - lo > 1e-6, hi - lo, 1.0)
    return (x - lo[:, None, None]) / span[:, None, None] * 255.0


def resize(x: np.ndarray, size: int) -> np.ndarray:
    h, w = x.shape[1:3]
    if (h, w) == (size, size):
        return x.astype(np.float32)
    return ndimage.zoom(x, (1, size / h, size / w), order=1, grid_mode=True, mode="nearest").astype(np.float32)


def oversample_indices(labels, factors: dict[str, int] | None = None, seed: int = 0) -> np.ndarray:
    """Indices repeating each OAP/OBS image `factor` times (Ho & Kim: x6), shuffled deterministically."""
    factors = {"OAP": 6, "IN": 1, "OBS": 6} if factors is None else factors
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        labels = np.asarray(LABELS)[labels]
    reps = np.array([int(factors.get(str(lab), 1)) for lab in labels])
    idx = np.repeat(np.arange(len(labels)), reps)
    return np.random.default_rng(seed).permutation(idx)


def rotate_batch(images: np.ndarray, max_degrees: float = 45.0, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Rotate each image by a uniform random angle in [-max, max] (augmentation, after the split)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    x = np.asarray(images)
    angles = rng.uniform(-max_degrees, max_degrees, size=len(x))
    out = np.empty_like(x, dtype=np.float32)
    for i, a in enumerate(angles):
        out[i] = ndimage.rotate(x[i], a, axes=(0, 1), reshape=False, order=1, mode="nearest")
    return out
