"""Model-ready inputs: the image pipeline, the augmentation draws of each epoch, batch order.

Pipeline of one image (Ho & Kim 2021 and the authors' Keras 2.2 ImageDataGenerator):

1. `preprocessing`: optional central crop (`crop_fraction`, before any augmentation), the
   2-98 percentile window, resize to the backbone's input size, 3 channels;
2. rotation by the draw's angle (uniform in [-rotation, rotation], draw 0 = no rotation);
3. the fixed central zoom (`augmentation.zoom`; 0.6 keeps the central 60 % of each axis,
   which is how the authors' code crops "the outer 40 %": after the rotation, so the
   rotated corners never need filling), rotation and zoom in one resampling (bilinear,
   nearest-edge fill, as Keras 2's `apply_transform`);
4. the backbone's `preprocess_input`.

A *draw* names one augmented version of an image: 0 is the un-rotated image; the angle of
draw d > 0 for row i depends only on (seed, d, i), so every path that asks for the same
(row, draw) gets the same pixels, whatever else is in its batch. Two ways to assign draws
to training items (see `AugmentationSpec.draws`):

- `bank`: draws 1..copies, cycled over epochs (item j of epoch e uses 1 + (j + e) mod
  copies). Used where the frozen part's output is cached: the cache holds one array per
  draw, so the bank's size is the number of forward passes paid once.
- `fresh`: a new draw for every item in every epoch (the paper's "random rotation"), for
  strategies that train through the image (full fine-tuning, the CBR baselines).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUGMENTATION_MODES = ("bank", "fresh")


@dataclass(frozen=True)
class AugmentationSpec:
    """Rotation range (degrees), fixed zoom and bank size; `rotation == 0` turns augmentation off."""

    rotation: float = 45.0
    zoom: float = 0.6
    copies: int = 5

    def __post_init__(self) -> None:
        if self.rotation < 0:
            raise ValueError(f"augmentation.rotation must be >= 0 degrees. Got {self.rotation!r} instead.")
        if not 0 < self.zoom <= 1:
            raise ValueError(f"augmentation.zoom must be in (0, 1] (1 = no zoom). Got {self.zoom!r} instead.")
        if self.copies < 0:
            raise ValueError(f"augmentation.copies must be >= 0. Got {self.copies!r} instead.")

    @classmethod
    def from_config(cls, section: dict) -> "AugmentationSpec":
        return cls(rotation=float(section["rotation"]), zoom=float(section["zoom"]), copies=int(section["copies"]))

    @property
    def enabled(self) -> bool:
        return self.rotation > 0

    @property
    def bank_size(self) -> int:
        """Rotated copies held for cached strategies (0 when augmentation is off)."""
        return self.copies if self.enabled else 0

    def draws(self, n: int, epoch: int, mode: str) -> np.ndarray:
        """Draw of each of n training items (in their un-shuffled order) in this epoch."""
        if mode not in AUGMENTATION_MODES:
            raise ValueError(f"augmentation mode must be one of {AUGMENTATION_MODES}. Got {mode!r} instead.")
        if not self.enabled or (mode == "bank" and self.copies == 0):
            return np.zeros(n, dtype=np.int64)
        j = np.arange(n, dtype=np.int64)
        if mode == "bank":
            return 1 + (j + epoch) % self.copies
        return 1 + self.copies + epoch * n + j        # never a bank draw: fresh angles every epoch

    def key(self) -> dict:
        return {"rotation": self.rotation, "zoom": self.zoom}


def rotation_angle(seed: int, draw: int, row: int, max_degrees: float) -> float:
    """The angle of (draw, row): 0 for draw 0, else uniform in [-max, max] from (seed, draw, row)."""
    if draw == 0 or max_degrees == 0:
        return 0.0
    return float(np.random.default_rng([seed, draw, row]).uniform(-max_degrees, max_degrees))


def rotate_and_zoom(image: np.ndarray, degrees: float, zoom: float) -> np.ndarray:
    """Rotate a (H, W) image about its centre, then keep the central `zoom` of each axis, in one resampling.

    Output pixel q samples the input at c + zoom * R(q - c): Keras 2's `apply_transform` of a
    rotation followed by a zoom of (zx, zy) = (zoom, zoom), bilinear with nearest-edge fill.
    """
    if degrees == 0 and zoom == 1:
        return image
    from scipy import ndimage

    theta = np.deg2rad(degrees)
    matrix = zoom * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = (np.asarray(image.shape, dtype=np.float64) - 1) / 2
    offset = centre - matrix @ centre
    return ndimage.affine_transform(image, matrix, offset=offset, order=1, mode="nearest").astype(np.float32)


class ImageBank:
    """Model-ready images per (row, draw), prepared image by image.

    When the un-rotated image and every bank draw of every row fit in `memory_mb`, each is
    prepared the first time it is asked for and kept; otherwise batches are prepared on the
    fly. Fresh draws are never kept. Rotated draws of held-out test rows are never asked for.
    """

    def __init__(self, dataset, backbone, input_size: int, preprocessing: dict | None = None,
                 augmentation: AugmentationSpec | None = None, seed: int = 0, memory_mb: float = 2048.0):
        from ..data import Preprocessing

        self.dataset = dataset
        self.backbone = backbone
        self.input_size = int(input_size)
        self.prep = Preprocessing(**{**(preprocessing or {}), "size": self.input_size})
        self.augmentation = augmentation or AugmentationSpec()
        self.seed = int(seed)
        n = len(dataset.images)
        self._row_bytes = self.input_size ** 2 * 3 * 4
        need_mb = (self.augmentation.bank_size + 1) * n * self._row_bytes / 2 ** 20
        self.keep_bank = need_mb <= memory_mb
        self._base: np.ndarray | None = None          # preprocessed (N, S, S) grey images, before rotation
        self._base_ready = np.zeros(n, dtype=bool)
        self._memo: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # draw -> (model-ready images, ready mask)

    @property
    def copies(self) -> int:
        return self.augmentation.bank_size

    def key(self) -> dict:
        """What the pixels of a draw depend on (besides the data, the draw and the backbone)."""
        return {"prep": self.prep.key(), "preprocess": self.backbone.preprocess_mode, "size": self.input_size,
                "augmentation": self.augmentation.key(), "aug_seed": self.seed}

    def _grey(self, idx: np.ndarray) -> np.ndarray:
        """Preprocessed single-channel images of rows `idx` (kept per row when the bank fits in memory)."""
        if not self.keep_bank:
            return self.prep.apply(np.asarray(self.dataset.images[idx], dtype=np.float32))[..., 0]
        n = len(self.dataset.images)
        if self._base is None:
            self._base = np.empty((n, self.input_size, self.input_size), dtype=np.float32)
        missing = np.unique(idx[~self._base_ready[idx]])
        if len(missing):
            prepared = self.prep.apply(np.asarray(self.dataset.images[missing], dtype=np.float32))
            self._base[missing] = prepared[..., 0]
            self._base_ready[missing] = True
        return self._base[idx]

    def grey(self, idx) -> np.ndarray:
        """Preprocessed single-channel images (n, S, S) of rows `idx`, before rotation (the device pipeline's input)."""
        return self._grey(np.asarray(idx, dtype=np.int64))

    def angles(self, idx, draws) -> np.ndarray:
        """Rotation angle (degrees, float32) of each (row, draw): what `rotate_and_zoom` would use."""
        aug = self.augmentation
        if not aug.enabled:
            return np.zeros(len(idx), dtype=np.float32)
        return np.array([rotation_angle(self.seed, d, r, aug.rotation) for r, d in zip(np.asarray(idx).tolist(),
                                                                                       np.asarray(draws).tolist())],
                        dtype=np.float32)

    def _prepare(self, idx: np.ndarray, draw: int) -> np.ndarray:
        grey = self._grey(idx)
        out = np.empty((len(idx), self.input_size, self.input_size, 3), dtype=np.float32)
        aug = self.augmentation
        for j, row in enumerate(idx.tolist()):
            angle = rotation_angle(self.seed, draw, row, aug.rotation) if aug.enabled else 0.0
            out[j] = rotate_and_zoom(grey[j], angle, aug.zoom)[..., None]
        np.clip(out, 0.0, 255.0, out=out)
        return self.backbone.preprocess(out)

    def _kept(self, idx: np.ndarray, draw: int) -> np.ndarray:
        n = len(self.dataset.images)
        images, ready = self._memo.get(draw, (None, np.zeros(n, dtype=bool)))
        missing = np.unique(idx[~ready[idx]])
        if len(missing):
            made = self._prepare(missing, draw)
            if images is None:
                images = np.empty((n,) + made.shape[1:], dtype=np.float32)
            images[missing] = made
            ready[missing] = True
            self._memo[draw] = (images, ready)
        return images[idx]

    def batch(self, idx, draws=0) -> np.ndarray:
        """Model-ready images of rows `idx`, each at its draw (an int for all, or one per row)."""
        idx = np.asarray(idx, dtype=np.int64)
        draws = np.broadcast_to(np.asarray(draws, dtype=np.int64), idx.shape)
        out = None
        for d in np.unique(draws).tolist():
            sel = np.flatnonzero(draws == d)
            keep = self.keep_bank and d <= self.copies
            part = self._kept(idx[sel], d) if keep else self._prepare(idx[sel], d)
            if out is None:
                out = np.empty((len(idx),) + part.shape[1:], dtype=np.float32)
            out[sel] = part
        return out


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """Seeded shuffle of n training items for one epoch."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def oversampled_items(rows: np.ndarray, labels: np.ndarray, factors: dict | None, seed: int) -> np.ndarray:
    """Training items: rows with OAP/OBS repeated by `factors` (Ho & Kim: x6), in a seeded order."""
    rows = np.asarray(rows, dtype=np.int64)
    if not factors:
        return rows
    from ..data import LABELS, oversample_indices

    picks = oversample_indices(np.asarray(LABELS)[labels[rows]], factors=factors, seed=seed)
    return rows[np.asarray(picks, dtype=np.int64)]
