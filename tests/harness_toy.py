"""Toy data and tiny trial contexts shared by the harness tests (learnable in a few epochs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.backbones import get_backbone
from harness.data import CardiacDataset
from harness.engine import AugmentationSpec, ImageBank, TrialContext
from harness.features import FeatureCache
from harness.protocol import make_folds, patient_indices
from harness.strategies import TrainSettings
from harness.weights import WeightsSpec, build_base, weights_identity

SIZE = 32


def tiny_dataset(n_patients: int = 6, slices: int = 6, size: int = 40, seed: int = 0) -> CardiacDataset:
    """Learnable toy stacks: a bright disc whose radius grows from apex (OAP) to base, none at OBS."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - size / 2
    images, rows = [], []
    for p in range(n_patients):
        for frame in ("ED", "ES"):
            for s in range(slices):
                label = "OAP" if s == 0 else "OBS" if s == slices - 1 else "IN"
                radius = {"OAP": 2.0, "IN": 5.0 + s, "OBS": 0.0}[label]
                img = rng.normal(50, 5, (size, size)) + 150 * (np.hypot(xx, yy) < radius)
                images.append(img)
                rows.append({"patient": f"p{p:02d}", "frame": frame, "slice_index": s, "slice_position": 8.0 * s,
                             "label": label, "source": "synthetic", "domain": "toy", "pixel_spacing": 1.0})
    return CardiacDataset(np.stack(images).astype("float32"), pd.DataFrame(rows), name="toy")


def make_ctx(ds, tmp_path: Path, backbone: str = "MobileNetV1-0.25", cached: bool = True, copies: int = 1,
             seed: int = 0, weights: str = "none", rotation: float = 20.0, zoom: float = 0.8,
             first_trainable: str | None = None, base=None) -> TrialContext:
    """A trial context over `ds` at SIZE px; a fresh random-init base unless `base` is given."""
    import keras

    spec = get_backbone(backbone, **({"first_trainable": first_trainable} if first_trainable else {}))
    wspec = WeightsSpec.parse(weights)
    if base is None:
        keras.utils.set_random_seed(seed)
        base = build_base(spec, wspec, SIZE)
    bank = ImageBank(ds, spec, SIZE, {"crop_fraction": 0.0}, AugmentationSpec(rotation=rotation, zoom=zoom, copies=copies),
                     seed=seed)
    return TrialContext(ds, spec, base, bank, FeatureCache(Path(tmp_path) / "cache", enabled=cached),
                        weights_identity(wspec, spec, SIZE, seed=seed), seed=seed, cached=cached)


def settings(**overrides) -> TrainSettings:
    return TrainSettings.from_config({"epochs": 2, "batch_size": 16, "oversample": {"OAP": 2, "IN": 1, "OBS": 2},
                                      **overrides})


def split(ctx, n_train: int = 4, folds: int = 2):
    """(train rows, test rows, folds): the first n_train patients train, the rest test."""
    patients = sorted(ctx.table["patient"].unique())
    train, test = patients[:n_train], patients[n_train:]
    return patient_indices(ctx.table, train), patient_indices(ctx.table, test), make_folds(ctx.table, train, folds, 0)


def majority_rate(ctx, rows) -> float:
    return float(np.bincount(ctx.y[rows]).max() / len(rows))
