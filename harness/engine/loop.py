"""The epoch loop: seeded batches, each item at its epoch's augmentation draw, a validation curve.

`fit_epochs` is the one place that decides what a training run sees; strategies only say
where inputs come from (`InputSource`) and which draws they use (bank or fresh).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from .inputs import AugmentationSpec, epoch_order
from .step import CompiledModel


class InputSource(Protocol):
    """Model inputs (one array per model input) for rows `idx` at augmentation `draws`."""

    def __call__(self, idx: np.ndarray, draws: np.ndarray) -> list[np.ndarray]: ...


@dataclass
class FitResult:
    """Validation score after each epoch (one per run for a `RunGroup`; empty without validation), and cost."""

    curve: list = field(default_factory=list)
    seconds: float = 0.0
    images: int = 0
    steps: int = 0


#: input bytes gathered per call while training: whole batches within this budget
GATHER_BYTES = 64 * 2 ** 20


def _rows_per_gather(source: InputSource, items: np.ndarray, draws: np.ndarray, batch_size: int) -> int:
    row_bytes = sum(a.nbytes for a in source(items[:1], draws[:1]))
    return batch_size * max(1, GATHER_BYTES // max(row_bytes, 1) // batch_size)


def fit_epochs(compiled: CompiledModel, source: InputSource, items: np.ndarray, labels: np.ndarray, *,
               epochs: int, batch_size: int, seed: int, augmentation: AugmentationSpec, mode: str,
               validate: Callable[[], float] | None = None) -> FitResult:
    """Train `compiled` for `epochs` over `items` (rows, repeats allowed); validate after each epoch.

    Epoch e: items in the order `epoch_order(n, seed, e)`, item j at draw
    `augmentation.draws(n, e, mode)[j]`, `batch_size` at a time (the last batch partial).
    Inputs are gathered several batches at a time (cheap for cached features; the same
    pixels for images).
    """
    result = FitResult()
    items = np.asarray(items, dtype=np.int64)
    if not len(items):
        return result
    rows = _rows_per_gather(source, items, augmentation.draws(len(items), 0, mode), batch_size)
    for epoch in range(epochs):
        order = epoch_order(len(items), seed, epoch)
        ep_items, ep_draws = items[order], augmentation.draws(len(items), epoch, mode)[order]
        t0 = time.perf_counter()
        for start in range(0, len(order), rows):
            x = source(ep_items[start:start + rows], ep_draws[start:start + rows])
            result.steps += compiled.train_steps(x, labels[ep_items[start:start + rows]], batch_size)
        result.seconds += time.perf_counter() - t0
        result.images += len(items)
        if validate is not None:
            result.curve.append(validate())
    return result


def predict_rows(compiled: CompiledModel, source: InputSource, idx: np.ndarray, rows: int) -> np.ndarray:
    """Predictions for rows `idx` at draw 0, `rows` per model call (bounds activation memory).

    (n, classes) for a `CompiledModel`, (K, n, classes) for a `RunGroup` of K runs.
    """
    idx = np.asarray(idx, dtype=np.int64)
    out = [compiled.predict(source(idx[s:s + rows], np.zeros(len(idx[s:s + rows]), np.int64)))
           for s in range(0, len(idx), rows)]
    return np.concatenate(out, axis=-2).astype("float64") if out else np.zeros((0, 3))
