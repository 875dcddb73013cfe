"""What one trial shares: data and labels, the base model, the image bank, the activation cache."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..backbones import BackboneSpec, split_at
from ..features import FeatureCache, activation_key
from .inputs import ImageBank


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class TrialContext:
    """Data, labels, base model, image bank and feature cache of one trial.

    `weights_id` names the base's initial numbers (see `harness.weights.weights_identity`);
    `random_init` says they are a random initialisation (see `standardiser`).
    """

    def __init__(self, dataset, backbone: BackboneSpec, base, bank: ImageBank, cache: FeatureCache,
                 weights_id: str, seed: int = 0, cached: bool = True, random_init: bool | None = None):
        from ..data import LABELS

        self.dataset = dataset
        self.table: pd.DataFrame = dataset.table.reset_index(drop=True)
        lookup = {name: i for i, name in enumerate(LABELS)}
        self.y = self.table["label"].map(lookup).to_numpy(dtype=np.int64)
        self.backbone = backbone
        self.base = base
        self.bank = bank
        self.cache = cache
        self.weights_id = weights_id
        self.random_init = weights_id.startswith("none") if random_init is None else bool(random_init)
        self.seed = int(seed)
        self.cached = bool(cached)
        self._splits: dict = {}
        self._arrays: dict = {}
        self._fingerprint = dataset.fingerprint()
        self.feature_seconds = 0.0
        self.fill_images = 0                 # images the frozen part ran forward to fill the cache
        self.fill_seconds = 0.0              # (cache misses only: the cache_fill phase's throughput)
        self._standardisers: dict = {}
        self.standardised_on: int | None = None
        self.augmented_rows: np.ndarray | None = None    # None: rotated draws of every row
        #: training steps per call into the compiled graph (`harness.engine.step`; run_trial sets it per device)
        self.steps_per_execution = 1
        #: rotate/zoom/scale images inside the model (full fine-tuning) instead of on the host (run_trial sets it)
        self.augment_on_device = True
        #: train a fold's learning rates together (`RunGroup`; run_trial sets it per device)
        self.group_runs = True

    @property
    def feature_dim(self) -> int:
        return int(self.base.output_shape[-1])

    @property
    def aug_copies(self) -> int:
        return self.bank.copies

    # ------------------------------------------------------------------ the base

    def standardiser(self, where: str | int, rows=None) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Random-init base: fixed per-channel (offset, scale) for the inputs of the trained part.

        A randomly initialised base in inference mode (BatchNorm with its initial statistics)
        shrinks activations layer by layer: MobileNetV1's pooled features are ~1e-17. They
        still carry the image's information (a standardised linear probe reads it), but
        nothing trained on top can learn from inputs that small. So where the trained part
        meets the frozen part — the head's input ("pooled") or the unfrozen block's input
        (a depth) — a random-init model standardises each channel: mean 0, standard deviation
        1 over the clean images of the training rows `rows` (first call per place; labels are
        never read; a constant channel gets scale 0). Pretrained bases keep raw inputs, as
        the paper. (Calibrating the BatchNorm statistics instead read less of the image:
        docs/harness.md, "Random-init bases".) Returns None for pretrained bases.
        """
        if not self.random_init:
            return None
        if where not in self._standardisers:
            if rows is None:
                raise RuntimeError(f"the standardiser at {where!r} needs the training rows first (strategy.prepare)")
            rows = np.unique(np.asarray(rows, dtype=np.int64))
            zeros = np.zeros(len(rows), np.int64)
            if where == "pooled":
                model, per_draw = self.base, (self.pooled() if self.cached else None)
            else:
                model, per_draw = self.split(int(where))[0], (self.boundary(int(where)) if self.cached else None)
            arrays = self.gather(per_draw, rows, zeros) if self.cached else \
                self._forward(model, zeros, len(_as_list(model.outputs)), rows)
            out = []
            for a in arrays:
                flat = np.asarray(a, dtype=np.float64).reshape(-1, a.shape[-1])
                mean, std = flat.mean(axis=0), flat.std(axis=0)
                scale = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0)
                out.append(((-mean * scale).astype(np.float32), scale.astype(np.float32)))
            self._standardisers[where] = out
            self.standardised_on = len(rows)
        return self._standardisers[where]

    def standardise(self, tensors, where: str | int):
        """Apply `standardiser(where)` to symbolic tensors (float32 Rescaling layers); identity if pretrained."""
        from keras import layers

        spec = self.standardiser(where)
        if spec is None:
            return tensors
        out = [layers.Rescaling(scale=scale, offset=offset, dtype="float32", name=f"standardise_{where}_{i}")(t)
               for i, (t, (offset, scale)) in enumerate(zip(_as_list(tensors), spec))]
        return out if isinstance(tensors, (list, tuple)) else out[0]

    def split(self, depth: int = 1):
        """(frozen, tail) at the backbone's depth-`depth` boundary (or its `first_trainable`)."""
        if depth not in self._splits:
            index = self.backbone.boundary_index(self.base, depth)
            frozen, tail = split_at(self.base, index)
            self._splits[depth] = (frozen, tail, self.base.layers[index].name)
        frozen, tail, _ = self._splits[depth]
        return frozen, tail

    def boundary_identity(self, depth: int) -> dict:
        """The layer names that define a split: first trainable layer, layers whose outputs cross."""
        frozen, _ = self.split(depth)
        first = self._splits[depth][2]
        crossing = [t._keras_history.operation.name for t in frozen.outputs]
        return {"first_trainable": first, "crossing": crossing}

    # ------------------------------------------------------------------ cached activations

    def train_on(self, rows) -> None:
        """Declare the rows this trial trains on: rotated draws are computed for them only.

        Validation and test rows use draw 0, so rotated activations of held-out test images
        would never be read. Call before the first `pooled` / `boundary`.
        """
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        if self.augmented_rows is None or not np.array_equal(rows, self.augmented_rows):
            self._arrays.clear()
        self.augmented_rows = rows

    def _key(self, boundary: dict, draw: int, rows: np.ndarray | None) -> str:
        return activation_key(backbone=self.backbone.name, backbone_options=self.backbone.kwargs,
                              input_size=self.bank.input_size, boundary=boundary, weights=self.weights_id,
                              data=self._fingerprint, pipeline=self.bank.key(), draw=draw,
                              rows=None if rows is None else rows.tolist())

    def _rows_for(self, draw: int) -> np.ndarray | None:
        return None if draw == 0 or self.augmented_rows is None else self.augmented_rows

    def _activations(self, name: str, boundary: dict, model, n_out: int) -> list[list[np.ndarray]]:
        """Per bank draw, the list of `model` outputs for every image (cached on disk).

        Rotated draws cover `augmented_rows` only (see `train_on`); other rows hold NaN.
        """
        if name in self._arrays:
            return self._arrays[name]
        t0 = time.perf_counter()
        per_draw = []
        for draw in range(self.aug_copies + 1):
            rows = self._rows_for(draw)
            per_draw.append(self.cache.get(self._key(boundary, draw, rows),
                                           lambda d=draw, r=rows: self._fill(model, d, n_out, r), n_out))
        self.feature_seconds += time.perf_counter() - t0
        self._arrays[name] = per_draw
        return per_draw

    def _fill(self, model, draw: int, n_out: int, rows: np.ndarray | None) -> list[np.ndarray]:
        t0 = time.perf_counter()
        outs = self._forward(model, draw, n_out, rows, pad=True)
        self.fill_images += len(self.y) if rows is None else len(rows)
        self.fill_seconds += time.perf_counter() - t0
        if rows is None:
            return outs
        full = []
        for o in outs:
            a = np.full((len(self.y),) + o.shape[1:], np.nan, dtype=o.dtype)
            a[rows] = o
            full.append(a)
        return full

    def _forward(self, model, draw, n_out: int, idx: np.ndarray | None = None, pad: bool = False,
                 chunk: int = 64) -> list[np.ndarray]:
        """`model` outputs for rows `idx` (default: all rows) at `draw`, `chunk` rows per call.

        `pad` (cache fills) repeats the last row up to a full chunk, so the forward pass is
        traced for one input shape instead of two; a row's output does not depend on its chunk.
        """
        idx = np.arange(len(self.y)) if idx is None else np.asarray(idx, dtype=np.int64)
        draw = np.broadcast_to(np.asarray(draw, dtype=np.int64), idx.shape)
        outs: list[list[np.ndarray]] = [[] for _ in range(n_out)]
        for start in range(0, len(idx), chunk):
            part, part_draws = idx[start:start + chunk], draw[start:start + chunk]
            n = len(part)
            if pad and n < chunk and len(idx) > chunk:
                part = np.concatenate([part, np.full(chunk - n, part[-1])])
                part_draws = np.concatenate([part_draws, np.full(chunk - n, part_draws[-1])])
            res = _as_list(model.predict_on_batch(self.bank.batch(part, part_draws)))
            for j, r in enumerate(res):
                outs[j].append(np.asarray(r, dtype="float32")[:n])
        return [np.concatenate(o) for o in outs]

    def pooled(self) -> list[list[np.ndarray]]:
        """The base's pooled output, per bank draw."""
        return self._activations("pooled", {"first_trainable": None, "crossing": ["pooled output"]}, self.base, 1)

    def boundary(self, depth: int) -> list[list[np.ndarray]]:
        """The frozen part's outputs at the depth-`depth` boundary, per bank draw."""
        frozen, _ = self.split(depth)
        identity = self.boundary_identity(depth)
        return self._activations(f"boundary:{identity['first_trainable']}", identity, frozen, len(frozen.outputs))

    def forward_pooled(self, idx, draws) -> np.ndarray:
        """Naive path: the base's forward pass for these items, now."""
        return self._forward(self.base, draws, 1, np.asarray(idx, dtype=np.int64))[0]

    def gather(self, per_draw: list[list[np.ndarray]], idx, draws) -> list[np.ndarray]:
        """Rows `idx`, each at its augmentation draw, from cached per-draw arrays."""
        idx, draws = np.asarray(idx, dtype=np.int64), np.asarray(draws, dtype=np.int64)
        if np.any(draws > self.aug_copies):
            raise ValueError(f"draw {int(draws.max())} is not in the bank of {self.aug_copies} rotated copies: "
                             "cached features serve bank draws only")
        if self.augmented_rows is not None and np.any(draws > 0):
            outside = np.setdiff1d(idx[draws > 0], self.augmented_rows)
            if len(outside):
                raise ValueError(f"rows {outside[:5].tolist()} have no rotated copy: they were not declared "
                                 "as training rows (TrialContext.train_on)")
        result = []
        for j in range(len(per_draw[0])):
            first = per_draw[0][j]
            out = np.empty((len(idx),) + first.shape[1:], dtype=first.dtype)
            for d in np.unique(draws):
                sel = np.flatnonzero(draws == d)
                out[sel] = per_draw[d][j][idx[sel]]
            result.append(out)
        return result
