"""The four transfer-learning strategies as learners the protocol can cross-validate.

A learner answers: which candidates (learning rates, or SVM / forest hyperparameters),
the validation curve of one candidate on one fold, a final fit, and test probabilities.

- feature_extractor: frozen base run with training=False (BatchNorm in inference mode),
  head Dense(256, ReLU) → Dropout(0.5) → Dense(3, softmax).
- hybrid_svm / hybrid_rf: the same frozen features into scikit-learn.
- partial_finetune: last block + head trained, the head warm-started from the selected
  feature-extractor head of the same training patients; lower learning rates.
- full_finetune: every layer trained (also the CBR from-scratch baselines).

Speed: with `cached=True` the frozen part's forward pass is read from the FeatureCache
(pooled features for the frozen strategies, boundary activations for partial fine-tuning,
one array per augmentation copy). With `cached=False` (the naive path, used by
`harness bench`) the frozen part runs on every batch of every epoch; the arithmetic is
otherwise identical, so the metrics must agree.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .backbones import BackboneSpec, count_params, split_at
from .features import FeatureCache, cache_key

STRATEGIES = ("feature_extractor", "hybrid_svm", "hybrid_rf", "partial_finetune", "full_finetune")


@dataclass
class TrainSettings:
    """Optimiser and loop settings shared by the Keras strategies (Ho & Kim defaults)."""

    epochs: int = 50
    batch_size: int = 32
    momentum: float = 0.9
    nesterov: bool = True
    decay: float = 1e-6                 # Keras-2 style lr / (1 + decay * iteration)
    select_on: str = "val_loss"         # or "val_accuracy"
    oversample: dict | None = field(default_factory=lambda: {"OAP": 6, "IN": 1, "OBS": 6})
    mixed_precision: bool = False


class ImageBank:
    """Model-ready images: copy 0 clean, copies 1..K rotated once and reused (the augmentation bank).

    Rotation angles depend only on (seed, copy, image index), and every step after the
    rotation works image by image, so any path that asks for the same (index, copy) gets the
    same pixels, whatever else is in its batch. When all copies fit in `memory_mb`, each
    (image, copy) is prepared the first time it is asked for and kept in memory (full
    fine-tuning and the naive path then skip re-rotating and re-resizing every epoch, and
    rotated copies of held-out test images are never made); otherwise batches are prepared
    on the fly.
    """

    def __init__(self, dataset, backbone: BackboneSpec, input_size: int, preprocessing: dict | None = None,
                 rotation: float = 45.0, copies: int = 0, seed: int = 0, memory_mb: float = 2048.0):
        from .data import Preprocessing

        self.dataset = dataset
        self.backbone = backbone
        self.input_size = int(input_size)
        self.prep = Preprocessing(**{**(preprocessing or {}), "size": self.input_size})
        self.rotation = float(rotation)
        self.copies = int(copies)
        self.seed = int(seed)
        need_mb = (self.copies + 1) * len(dataset.images) * self.input_size ** 2 * 3 * 4 / 2 ** 20
        self.in_memory = need_mb <= memory_mb
        self._memo: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # copy -> (images, prepared mask)

    def key(self) -> dict:
        return {"prep": self.prep.key(), "preprocess": self.backbone.preprocess_mode, "rotation": self.rotation,
                "aug_seed": self.seed, "size": self.input_size}

    def _prepare(self, idx: np.ndarray, copy: int) -> np.ndarray:
        from .data import rotate_batch

        raw = np.array(self.dataset.images[idx], dtype="float32", copy=True)
        if copy > 0:
            for j, i in enumerate(idx.tolist()):
                rng = np.random.default_rng([self.seed, copy, i])
                raw[j] = rotate_batch(raw[j:j + 1], max_degrees=self.rotation, rng=rng)[0]
        return self.backbone.preprocess(self.prep.apply(raw))

    def _remembered(self, idx: np.ndarray, copy: int) -> np.ndarray:
        """Rows `idx` of `copy` from memory, preparing (once) those not made yet."""
        n = len(self.dataset.images)
        images, ready = self._memo.get(copy, (None, np.zeros(n, dtype=bool)))
        missing = np.unique(idx[~ready[idx]])
        if len(missing):
            made = self._prepare(missing, copy)
            if images is None:
                images = np.empty((n,) + made.shape[1:], dtype="float32")
            images[missing] = made
            ready[missing] = True
            self._memo[copy] = (images, ready)
        return images[idx]

    def batch(self, idx: np.ndarray, copies: np.ndarray | int = 0) -> np.ndarray:
        idx = np.asarray(idx, dtype=int)
        copies = np.broadcast_to(np.asarray(copies, dtype=int), idx.shape)
        out = None
        for c in np.unique(copies).tolist():
            sel = np.flatnonzero(copies == c)
            part = self._remembered(idx[sel], c) if self.in_memory else self._prepare(idx[sel], c)
            if out is None:
                out = np.empty((len(idx),) + part.shape[1:], dtype="float32")
            out[sel] = part
        return out


def copies_for_epoch(n: int, epoch: int, k: int) -> np.ndarray:
    """Augmentation copy of each of n training items in an epoch (0 when augmentation is off)."""
    if k <= 0:
        return np.zeros(n, dtype=int)
    return 1 + (np.arange(n) + epoch) % k


def keras2_decay(initial_learning_rate, decay: float):
    """Keras-2 `decay` as a Keras-3 schedule: lr_t = lr / (1 + decay * t), t = optimizer step.

    Equal to `keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`,
    except that `initial_learning_rate` may be a `keras.Variable`, so a compiled training step
    is reused across learning rates (assign the variable; the step counter restarts at 0 when
    the optimizer's `iterations` is reset).
    """
    from keras import ops
    from keras.optimizers.schedules import LearningRateSchedule

    class Keras2Decay(LearningRateSchedule):
        def __init__(self, lr, rate: float):
            self.initial_learning_rate = lr
            self.decay = float(rate)

        def __call__(self, step):
            step = ops.cast(step, "float32")
            lr = ops.cast(ops.convert_to_tensor(self.initial_learning_rate), "float32")
            return ops.divide(lr, ops.add(1.0, ops.multiply(self.decay, step)))

        def get_config(self) -> dict:
            return {"initial_learning_rate": float(ops.convert_to_numpy(self.initial_learning_rate)),
                    "decay": self.decay}

    return Keras2Decay(initial_learning_rate, decay)


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    p = np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0)
    return float(-np.mean(np.log(p)))


class Learner:
    """Common plumbing: labels, oversampling, timing counters, validation scores."""

    name = "learner"

    def __init__(self, ctx: "TrialContext", settings: TrainSettings):
        self.ctx = ctx
        self.settings = settings
        self.images_trained = 0
        self.train_seconds = 0.0

    def prepare(self, folds: list[tuple[np.ndarray, np.ndarray]], train_idx: np.ndarray) -> None:
        """Work shared by all folds and candidates (features, warm starts)."""

    def candidates(self) -> list[dict]:
        raise NotImplementedError

    def epochs(self) -> int:
        return self.settings.epochs

    def score(self, idx: np.ndarray, proba: np.ndarray) -> float:
        y = self.ctx.y[idx]
        if self.settings.select_on == "val_accuracy":
            return 1.0 - float(np.mean(proba.argmax(1) == y))
        return _log_loss(y, proba)

    def training_items(self, train_idx: np.ndarray, seed: int) -> np.ndarray:
        if not self.settings.oversample:
            return np.asarray(train_idx, dtype=int)
        from .data import LABELS, oversample_indices

        labels = np.asarray(LABELS)[self.ctx.y[train_idx]]
        picks = oversample_indices(labels, factors=self.settings.oversample, seed=seed)
        return np.asarray(train_idx, dtype=int)[np.asarray(picks, dtype=int)]

    def params(self) -> dict:
        return {}


class KerasLearner(Learner):
    """Shared loop for the Keras strategies: SGD Nesterov, train_on_batch, per-epoch validation.

    One model is built and compiled per learner; each (fold, learning rate) run restores its
    initial weights and zeroes the optimizer state instead of rebuilding, so the traced
    training step is reused (rebuilding per run cost more than the training itself on CPU).
    """

    def __init__(self, ctx: "TrialContext", settings: TrainSettings, lrs: list[float]):
        super().__init__(ctx, settings)
        self.lrs = [float(lr) for lr in lrs]
        self.model = None
        self.init_weights = None
        self._lr_var = None

    def candidates(self) -> list[dict]:
        return [{"lr": lr} for lr in self.lrs]

    def _head(self, x, seed: int):
        from keras import initializers, layers

        self.head_layers = [
            layers.Dense(256, activation="relu", name="head_dense",
                         kernel_initializer=initializers.GlorotUniform(seed=seed)),
            layers.Dropout(0.5, seed=seed, name="head_dropout"),
            layers.Dense(3, activation="softmax", dtype="float32", name="head_out",
                         kernel_initializer=initializers.GlorotUniform(seed=seed + 1)),
        ]
        for layer in self.head_layers:
            x = layer(x)
        return x

    def _finish(self, inputs, outputs) -> None:
        import keras

        self.model = keras.Model(inputs, outputs)
        # Keras-2 decay as a schedule of the optimizer's own step counter: no per-step assign,
        # and the candidate's learning rate lives in a variable, so one traced step serves all.
        self._lr_var = keras.Variable(self.lrs[0], dtype="float32", trainable=False, name="initial_learning_rate")
        optimizer = keras.optimizers.SGD(learning_rate=keras2_decay(self._lr_var, self.settings.decay),
                                         momentum=self.settings.momentum, nesterov=self.settings.nesterov)
        optimizer.initial_learning_rate = self._lr_var   # tracked: JAX/torch steps see it as optimizer state
        self.model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        self.model.optimizer.build(self.model.trainable_variables)
        self.init_weights = [w.copy() for w in self.model.get_weights()]
        # initial optimizer state (zero momenta, step 0, and a loss scale under mixed precision)
        self.init_optimizer = [np.array(v.numpy()) for v in self.model.optimizer.variables]

    def build(self) -> None:
        raise NotImplementedError

    def reset(self, lr: float, train_idx=None) -> None:
        """Fresh run: initial weights, zero optimizer state (step 0), learning rate `lr`."""
        if self.model is None:
            self.build()
        self.model.set_weights(self.init_weights)
        for v, value in zip(self.model.optimizer.variables, self.init_optimizer):
            v.assign(value)
        self._lr_var.assign(float(lr))    # after the restore, which also covers this variable

    def inputs(self, idx: np.ndarray, copies: np.ndarray):
        raise NotImplementedError

    #: rows per `inputs` call when gathering training batches: whole batches within this budget
    gather_bytes = 64 * 2 ** 20

    def predict_rows(self) -> int:
        """Rows per model call when predicting (bounds activation memory for image inputs)."""
        return max(self.settings.batch_size, 64)

    def _gather_rows(self, idx: np.ndarray, copies: np.ndarray) -> int:
        bs = self.settings.batch_size
        row_bytes = sum(a.nbytes for a in _as_list(self.inputs(idx[:1], copies[:1])))
        return bs * max(1, self.gather_bytes // max(row_bytes, 1) // bs)

    def predict(self, idx: np.ndarray) -> np.ndarray:
        out, rows = [], self.predict_rows()
        for start in range(0, len(idx), rows):
            part = idx[start:start + rows]
            out.append(np.asarray(self.model.predict_on_batch(self.inputs(part, np.zeros(len(part), int)))))
        return np.concatenate(out).astype("float64")

    def train(self, train_idx: np.ndarray, epochs: int, val_idx: np.ndarray | None = None, seed: int = 0) -> list[float]:
        """Train self.model; returns the validation score after each epoch (empty without val_idx).

        Batches: items in a seeded per-epoch order, `batch_size` at a time (the last one
        partial), each item at its epoch's augmentation copy. Inputs are gathered several
        batches at a time (cheap for cached features; the same pixels for images).
        """
        items = self.training_items(train_idx, seed)
        y = self.ctx.y
        bs, k = self.settings.batch_size, self.ctx.aug_copies
        rows = self._gather_rows(items, copies_for_epoch(len(items), 0, k)) if len(items) else bs
        curve = []
        for epoch in range(epochs):
            order = np.random.default_rng([seed, epoch]).permutation(len(items))
            ep_items, ep_copies = items[order], copies_for_epoch(len(items), epoch, k)[order]
            t0 = time.perf_counter()
            for start in range(0, len(order), rows):
                x = _as_list(self.inputs(ep_items[start:start + rows], ep_copies[start:start + rows]))
                yc = y[ep_items[start:start + rows]]
                for b in range(0, len(yc), bs):
                    xb = [a[b:b + bs] for a in x]
                    self.model.train_on_batch(xb if len(xb) > 1 else xb[0], yc[b:b + bs])
            self.train_seconds += time.perf_counter() - t0
            self.images_trained += len(items)
            if val_idx is not None and len(val_idx):
                curve.append(self.score(val_idx, self.predict(val_idx)))
        return curve

    def curve(self, train_idx, val_idx, candidate: dict, epochs: int) -> list[float]:
        self.reset(candidate["lr"], train_idx)
        return self.train(train_idx, epochs, val_idx, seed=self.ctx.seed)

    def fit(self, train_idx, candidate: dict, epochs: int) -> None:
        self.reset(candidate["lr"], train_idx)
        self.train(train_idx, epochs, None, seed=self.ctx.seed)

    def predict_proba(self, idx) -> np.ndarray:
        return self.predict(np.asarray(idx, dtype=int))


class FeatureExtractor(KerasLearner):
    """Frozen base (inference-mode BatchNorm), trained head."""

    name = "feature_extractor"

    def prepare(self, folds, train_idx) -> None:
        if self.ctx.cached:
            self.ctx.train_on(train_idx)
            self.ctx.pooled()  # fill the cache once, before any timing of folds

    def build(self) -> None:
        import keras

        keras.utils.set_random_seed(self.ctx.seed)
        if self.ctx.cached:
            inp = keras.Input(shape=(self.ctx.feature_dim,), name="features")
            out = self._head(inp, self.ctx.seed)
        else:
            base = self.ctx.base
            base.trainable = False
            inp = keras.Input(shape=base.input_shape[1:], name="image")
            out = self._head(base(inp, training=False), self.ctx.seed)
        self._finish(inp, out)

    def inputs(self, idx, copies):
        if self.ctx.cached:
            return self.ctx.gather(self.ctx.pooled(), idx, copies)[0]
        return self.ctx.bank.batch(idx, copies)

    def predict_rows(self) -> int:
        # cached: the model is the dense head on pooled vectors, so one call covers a whole set
        return 8192 if self.ctx.cached else super().predict_rows()

    def head_weights(self) -> list:
        return [layer.get_weights() for layer in self.head_layers]

    def params(self) -> dict:
        head = count_params(self.model.trainable_weights)
        return {"trainable_params": head, "total_params": head + self.ctx.base.count_params()}


class PartialFinetune(KerasLearner):
    """Last block + head, head warm-started from the selected feature-extractor head."""

    name = "partial_finetune"

    def __init__(self, ctx, settings, lrs, head_lrs: list[float], depth: int = 1):
        super().__init__(ctx, settings, lrs)
        self.head_lrs = head_lrs
        self.depth = depth
        self.warm = None
        self._warm_heads: dict = {}

    def prepare(self, folds, train_idx) -> None:
        """Select the feature-extractor (lr, epochs) by CV; it warm-starts every head here."""
        from .protocol import cross_validate

        self.frozen, self.tail = self.ctx.split(self.depth)
        self.fe = FeatureExtractor(self.ctx, self.settings, self.head_lrs)
        self.fe.prepare(folds, train_idx)
        self.warm = cross_validate(self.fe, folds)
        if self.ctx.cached:
            self.ctx.boundary(self.depth)

    def _warm_head(self, train_idx) -> list:
        key = tuple(np.asarray(train_idx).tolist())
        if key not in self._warm_heads:
            self.fe.fit(train_idx, self.warm["candidate"], self.warm["epochs"])
            self._warm_heads[key] = self.fe.head_weights()
        return self._warm_heads[key]

    def build(self) -> None:
        import keras

        keras.utils.set_random_seed(self.ctx.seed)
        self.frozen.trainable = False
        self.tail.trainable = True
        if self.ctx.cached:
            inp = [keras.Input(shape=t.shape[1:]) for t in self.frozen.outputs]
            inputs = inp if len(inp) > 1 else inp[0]
            x = self.tail(inputs)
        else:
            inputs = keras.Input(shape=self.ctx.base.input_shape[1:], name="image")
            x = self.tail(self.frozen(inputs, training=False))
        self._finish(inputs, self._head(x, self.ctx.seed))

    def reset(self, lr: float, train_idx=None) -> None:
        self.tail.trainable = False             # the warm-start head trains on a fully frozen base
        head = self._warm_head(train_idx)
        self.frozen.trainable = False
        self.tail.trainable = True
        super().reset(lr, train_idx)
        for layer, w in zip(self.head_layers, head):
            layer.set_weights(w)

    def inputs(self, idx, copies):
        if self.ctx.cached:
            arrays = self.ctx.gather(self.ctx.boundary(self.depth), idx, copies)
            return arrays if len(arrays) > 1 else arrays[0]
        return self.ctx.bank.batch(idx, copies)

    def params(self) -> dict:
        head = count_params(w for layer in self.head_layers for w in layer.trainable_weights)
        return {"trainable_params": count_params(self.model.trainable_weights),
                "total_params": self.ctx.base.count_params() + head,
                "warm_start": {"lr": self.warm["candidate"]["lr"], "epochs": self.warm["epochs"]}}


class FullFinetune(KerasLearner):
    """Every layer trained from the initial weights (BatchNorm in training mode)."""

    name = "full_finetune"

    def build(self) -> None:
        import keras

        keras.utils.set_random_seed(self.ctx.seed)
        base = self.ctx.base
        base.trainable = True
        inp = keras.Input(shape=base.input_shape[1:], name="image")
        self._finish(inp, self._head(base(inp), self.ctx.seed))

    def inputs(self, idx, copies):
        return self.ctx.bank.batch(idx, copies)

    def params(self) -> dict:
        n = count_params(self.model.trainable_weights)
        return {"trainable_params": n, "total_params": int(self.model.count_params())}


class Hybrid(Learner):
    """Frozen pooled features → scikit-learn SVM (scaled) or random forest."""

    def __init__(self, ctx, settings, kind: str, grid: dict):
        super().__init__(ctx, settings)
        if kind not in ("svm", "rf"):
            raise ValueError(f"hybrid classifier must be svm or rf, not {kind!r}")
        self.kind = kind
        self.name = f"hybrid_{kind}"
        self.grid = grid or {}
        self.clf = None

    def candidates(self) -> list[dict]:
        keys = sorted(self.grid)
        values = [v if isinstance(v, list) else [v] for v in (self.grid[k] for k in keys)]
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)] or [{}]

    def epochs(self) -> int:
        return 1

    def prepare(self, folds, train_idx) -> None:
        if self.ctx.cached:
            self.ctx.train_on(train_idx)
            self.ctx.pooled()

    def _features(self, idx, copies) -> np.ndarray:
        if self.ctx.cached:
            return np.asarray(self.ctx.gather(self.ctx.pooled(), idx, copies)[0], dtype="float64")
        return np.asarray(self.ctx.forward_pooled(idx, copies), dtype="float64")

    def _make(self, candidate: dict):
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        if self.kind == "svm":  # probabilities = softmax of one-vs-rest decision values (see predict_proba)
            return make_pipeline(StandardScaler(), SVC(decision_function_shape="ovr", random_state=self.ctx.seed,
                                                       **candidate))
        return RandomForestClassifier(random_state=self.ctx.seed, n_jobs=1, **candidate)

    def fit(self, train_idx, candidate, epochs=1) -> None:
        items = self.training_items(np.asarray(train_idx), self.ctx.seed)
        copies = copies_for_epoch(len(items), 0, self.ctx.aug_copies)
        t0 = time.perf_counter()
        self.clf = self._make(candidate).fit(self._features(items, copies), self.ctx.y[items])
        self.train_seconds += time.perf_counter() - t0
        self.images_trained += len(items)

    def predict_proba(self, idx) -> np.ndarray:
        idx = np.asarray(idx, dtype=int)
        x = self._features(idx, np.zeros(len(idx), int))
        proba = np.zeros((len(idx), 3))
        if self.kind == "svm":
            # SVC(probability=True) is deprecated (scikit-learn 1.9) and runs an inner CV that
            # would mix oversampled copies across its folds; a softmax of the one-vs-rest
            # decision values keeps their ranking (all AUC needs) and its argmax is the vote-based class.
            scores = np.asarray(self.clf.decision_function(x), dtype="float64")
            if scores.ndim == 1:  # two classes present
                scores = np.stack([-scores, scores], axis=1)
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            proba[:, self.clf.classes_] = scores / scores.sum(axis=1, keepdims=True)
        else:
            proba[:, self.clf.classes_] = self.clf.predict_proba(x)
        return proba

    def curve(self, train_idx, val_idx, candidate, epochs=1) -> list[float]:
        self.fit(train_idx, candidate)
        return [self.score(np.asarray(val_idx), self.predict_proba(val_idx))]

    def params(self) -> dict:
        return {"trainable_params": 0, "total_params": self.ctx.base.count_params(), "classifier": self.kind}


class TrialContext:
    """Everything one trial shares: data, labels, base model, image bank and feature cache."""

    def __init__(self, dataset, backbone: BackboneSpec, base, bank: ImageBank, cache: FeatureCache,
                 weights_id: str, seed: int = 0, cached: bool = True):
        from .data import LABELS

        self.dataset = dataset
        self.table: pd.DataFrame = dataset.table.reset_index(drop=True)
        lookup = {name: i for i, name in enumerate(LABELS)}
        self.y = self.table["label"].map(lookup).to_numpy(dtype=int)
        self.backbone = backbone
        self.base = base
        self.bank = bank
        self.cache = cache
        self.weights_id = weights_id
        self.seed = int(seed)
        self.cached = bool(cached)
        self.aug_copies = bank.copies
        self._splits: dict = {}
        self._arrays: dict = {}
        self._fingerprint = dataset.fingerprint()
        self.feature_seconds = 0.0
        self.augmented_rows: np.ndarray | None = None    # None: rotated copies of every row

    @property
    def feature_dim(self) -> int:
        return int(self.base.output_shape[-1])

    def split(self, depth: int):
        if depth not in self._splits:
            self._splits[depth] = split_at(self.base, self.backbone.boundary_index(self.base, depth))
        return self._splits[depth]

    def train_on(self, rows) -> None:
        """Declare the rows this trial trains on: rotated copies are computed for them only.

        Validation and test rows use copy 0, so rotated activations of held-out test images
        would never be read. Call before the first `pooled` / `boundary`.
        """
        rows = np.unique(np.asarray(rows, dtype=int))
        if self.augmented_rows is None or not np.array_equal(rows, self.augmented_rows):
            self._arrays.clear()
        self.augmented_rows = rows

    def _key(self, boundary: str, copy: int, rows: np.ndarray | None = None) -> str:
        import keras

        parts = dict(backbone=self.backbone.name, kwargs=self.backbone.kwargs, weights=self.weights_id,
                     keras_backend=keras.backend.backend(), size=self.bank.input_size,
                     data=self._fingerprint, bank=self.bank.key(), boundary=boundary, copy=copy)
        if rows is not None:
            parts["rows"] = cache_key(rows=rows.tolist())
        return cache_key(**parts)

    def _rows_for(self, copy: int) -> np.ndarray | None:
        return None if copy == 0 or self.augmented_rows is None else self.augmented_rows

    def _activations(self, name: str, model, n_out: int) -> list[list[np.ndarray]]:
        """Per augmentation copy, the list of `model` outputs for every image (cached on disk).

        Rotated copies cover `augmented_rows` only (see `train_on`); other rows hold NaN.
        """
        if name in self._arrays:
            return self._arrays[name]
        t0 = time.perf_counter()
        per_copy = []
        for copy in range(self.aug_copies + 1):
            rows = self._rows_for(copy)
            per_copy.append(self.cache.get(self._key(name, copy, rows),
                                           lambda c=copy, r=rows: self._fill(model, c, n_out, r), n_out))
        self.feature_seconds += time.perf_counter() - t0
        self._arrays[name] = per_copy
        return per_copy

    def _fill(self, model, copy: int, n_out: int, rows: np.ndarray | None) -> list[np.ndarray]:
        if rows is None:
            return self._forward(model, copy, n_out, pad=True)
        outs = self._forward(model, copy, n_out, rows, pad=True)
        full = []
        for o in outs:
            a = np.full((len(self.y),) + o.shape[1:], np.nan, dtype=o.dtype)
            a[rows] = o
            full.append(a)
        return full

    def _forward(self, model, copy: int, n_out: int, idx: np.ndarray | None = None, pad: bool = False,
                 chunk: int = 64) -> list[np.ndarray]:
        """`model` outputs for rows `idx` (default: all rows), `chunk` rows per call.

        `pad` (cache fills) repeats the last row up to a full chunk, so the forward pass is
        traced for one input shape instead of two; a row's output does not depend on its chunk.
        """
        idx = np.arange(len(self.y)) if idx is None else np.asarray(idx, dtype=int)
        outs: list[list[np.ndarray]] = [[] for _ in range(n_out)]
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            n = len(part)
            if pad and n < chunk and len(idx) > chunk:
                part = np.concatenate([part, np.full(chunk - n, part[-1])])
            res = _as_list(model.predict_on_batch(self.bank.batch(part, copy)))
            for j, r in enumerate(res):
                outs[j].append(np.asarray(r)[:n])
        return [np.concatenate(o) for o in outs]

    def pooled(self) -> list[list[np.ndarray]]:
        return self._activations("pooled", self.base, 1)

    def boundary(self, depth: int) -> list[list[np.ndarray]]:
        frozen, _ = self.split(depth)
        return self._activations(f"depth{depth}", frozen, len(frozen.outputs))

    def forward_pooled(self, idx, copies) -> np.ndarray:
        """Naive path: the base's forward pass for these items, now."""
        copies = np.asarray(copies)
        out = np.zeros((len(idx), self.feature_dim), dtype="float32")
        for c in np.unique(copies):
            sel = np.flatnonzero(copies == c)
            out[sel] = self._forward(self.base, int(c), 1, np.asarray(idx)[sel])[0]
        return out

    def gather(self, per_copy: list[list[np.ndarray]], idx, copies) -> list[np.ndarray]:
        """Rows `idx`, each at its augmentation copy, from cached per-copy arrays."""
        idx, copies = np.asarray(idx, dtype=int), np.asarray(copies, dtype=int)
        if self.augmented_rows is not None and np.any(copies > 0):
            outside = np.setdiff1d(idx[copies > 0], self.augmented_rows)
            if len(outside):
                raise ValueError(f"rows {outside[:5].tolist()} have no rotated copy: they were not declared "
                                 "as training rows (TrialContext.train_on)")
        result = []
        for j in range(len(per_copy[0])):
            first = per_copy[0][j]
            out = np.empty((len(idx),) + first.shape[1:], dtype=first.dtype)
            for c in np.unique(copies):
                sel = np.flatnonzero(copies == c)
                out[sel] = per_copy[c][j][idx[sel]]
            result.append(out)
        return result


def make_learner(strategy: str, ctx: TrialContext, settings: TrainSettings, options: dict) -> Learner:
    """Learner for a strategy name; `options` is the config's strategies.<name> section."""
    if strategy == "feature_extractor":
        return FeatureExtractor(ctx, settings, options.get("lrs", [1e-2, 1e-3, 1e-4]))
    if strategy == "partial_finetune":
        return PartialFinetune(ctx, settings, options.get("lrs", [1e-3, 1e-4, 1e-5]),
                               options.get("head_lrs", [1e-2, 1e-3, 1e-4]), int(options.get("depth", 1)))
    if strategy == "full_finetune":
        return FullFinetune(ctx, settings, options.get("lrs", [1e-2, 1e-3, 1e-4]))
    if strategy in ("hybrid_svm", "hybrid_rf"):
        kind = strategy.split("_", 1)[1]
        return Hybrid(ctx, settings, kind, options.get(kind, {}))
    raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
