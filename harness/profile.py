"""`harness bench --profile`: measure this machine's step costs for the dry run's cost model.

Seconds, not minutes: random weights (`weights=None`), random images, two small batch
sizes per kind of step (the line `overhead + per_image * batch` through them), a couple of
timed calls after one warm-up call. Per backbone and input size: building the base, its
forward pass, a full training step (base + head) and a training step of the last block +
head on boundary activations, each with its one-off tracing time. Machine-wide: a fresh
process's start-up, the dense head's step, image preparation, synthetic data and
scikit-learn fits. The result is stored under `<cache_dir>/profiles/<machine key>.json`
(merged with earlier measurements of the same machine) and read by `harness sweep --dry-run`.
"""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Callable, Iterable

import numpy as np

from .cost import BackboneCost, Profile, StepCost, machine

REPEATS = 3


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _steady(fn: Callable[[], object]) -> float:
    """Fastest of REPEATS calls, or of as many as fit in half a second (cheap calls are noisy)."""
    times, start = [], time.perf_counter()
    while len(times) < REPEATS or (time.perf_counter() - start < 0.5 and len(times) < 50):
        times.append(_timed(fn))
    return min(times)


def step_cost(call: Callable[[int], object], small: int, large: int) -> tuple[StepCost, float]:
    """(cost line, tracing seconds) of `call(batch)`: first call at `large` minus its steady time."""
    first = _timed(lambda: call(large))
    steady_large = _steady(lambda: call(large))
    call(small)                                            # trace the second shape, untimed
    steady_small = _steady(lambda: call(small))
    return StepCost.fit((small, steady_small), (large, steady_large)), max(first - steady_large, 0.0)


def startup_seconds() -> float:
    """Wall time of a fresh Python process that imports Keras and runs one op (what each process pays)."""
    code = "import keras; keras.ops.convert_to_numpy(keras.ops.ones((2, 2)) * 2)"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def _head(x, keras):
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    return keras.layers.Dense(3, activation="softmax", dtype="float32")(x)


def _compiled(inputs, outputs, keras):
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")
    return model


def measure_backbone(name: str, size: int, batch: int) -> BackboneCost:
    """Build `name` at `size` with random weights and time its three kinds of step."""
    import keras

    from .backbones import get_backbone, split_at

    spec = get_backbone(name)
    small, large = 2, max(batch, 4)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(large, size, size, 3)).astype("float32")
    y = rng.integers(0, 3, size=large)
    t0 = time.perf_counter()
    base = spec.build(size, weights=None)
    build_s = time.perf_counter() - t0
    forward, forward_trace = step_cost(lambda b: base.predict_on_batch(x[:b]), small, large)
    inp = keras.Input(shape=(size, size, 3))
    full = _compiled(inp, _head(base(inp), keras), keras)
    train, train_trace = step_cost(lambda b: full.train_on_batch(x[:b], y[:b]), small, large)
    frozen, tail = split_at(base, spec.boundary_index(base, 1))
    acts = frozen.predict_on_batch(x)
    acts = list(acts) if isinstance(acts, (list, tuple)) else [acts]
    inputs = [keras.Input(shape=a.shape[1:]) for a in acts]
    partial = _compiled(inputs, _head(tail(inputs if len(inputs) > 1 else inputs[0]), keras), keras)
    tail_cost, tail_trace = step_cost(
        lambda b: partial.train_on_batch([a[:b] for a in acts] if len(acts) > 1 else acts[0][:b], y[:b]), small, large)
    keras.backend.clear_session()
    return BackboneCost(size, round(build_s, 4), forward, round(forward_trace, 4), train, round(train_trace, 4),
                        tail_cost, round(tail_trace, 4))


def measure_machine(batch: int) -> dict:
    """Machine-wide figures: start-up, dense head, image preparation, synthetic data, scikit-learn."""
    import keras
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.svm import SVC

    from .data.preprocess import Preprocessing, rotate_batch
    from .data.synth import SyntheticGenerator

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(max(4 * batch, 64), 256)).astype("float32")
    labels = rng.integers(0, 3, size=len(feats))
    inp = keras.Input(shape=(256,))
    head = _compiled(inp, _head(inp, keras), keras)
    head_cost, head_trace = step_cost(lambda b: head.train_on_batch(feats[:b], labels[:b]), max(batch // 4, 2),
                                      len(feats))
    keras.backend.clear_session()
    raw = rng.uniform(0, 1000, size=(32, 128, 128)).astype("float32")
    prep = Preprocessing(size=128)
    prep_s = _steady(lambda: prep.apply(rotate_batch(raw, 45.0, rng=1)))
    synth_s = _timed(lambda: SyntheticGenerator(image_size=128).generate(2, seed=0, progress=False)) / 2
    x = rng.normal(size=(1000, 256))
    y = rng.integers(0, 3, size=1000)
    svm_s = _timed(lambda: SVC().fit(x, y))
    rf_s = _timed(lambda: RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=0).fit(x, y))
    return {"startup_s": round(startup_seconds(), 3), "head": head_cost, "head_trace_s": round(head_trace, 4),
            "prep_s_per_megapixel": round(prep_s / (32 * 128 * 128 / 1e6), 4),
            "synth_s_per_patient": round(synth_s, 4), "svm_fit_s": round(svm_s, 4), "rf_fit_s": round(rf_s, 4)}


def measure(pairs: Iterable[tuple[str, int]], batch: int = 16, command: str = "harness bench --profile",
            progress: bool = True) -> Profile:
    """A Profile of this machine for the (backbone, input size) pairs."""
    from tqdm.auto import tqdm

    pairs = list(dict.fromkeys(pairs))
    backbones = {}
    for name, size in tqdm(pairs, desc="profile", unit="backbone", disable=not progress):
        backbones[f"{name}@{size}"] = measure_backbone(name, size, batch)
    figures = measure_machine(batch)
    return Profile(machine=machine(), measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   command=command, backbones=backbones, **figures)
