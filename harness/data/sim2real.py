"""Sim-to-real gap: a tiny CNN trained only on synthetic stacks, tested on real Sunnybrook patients.

`harness data sim2real SUNNYBROOK_DIR` trains one model per generator version (`realism`) with the
same seed, architecture and budget, and reports accuracy and per-class F1 on the real images, next
to the same model's score on held-out synthetic patients (the in-domain reference).
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from .dataset import LABELS
from .preprocess import Preprocessing, rotate_batch

INPUT_SIZE = 64


def tiny_cnn(input_size: int = INPUT_SIZE, seed: int = 0):
    """Three conv-conv-pool blocks (BatchNorm momentum 0.9: the default 0.99 lags over a few hundred
    steps and collapses inference-mode predictions to one class), global average pooling."""
    import keras
    from keras import layers
    keras.utils.set_random_seed(seed)
    inp = keras.Input((input_size, input_size, 1))
    x = layers.Rescaling(1 / 255.0)(inp)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    out = layers.Dense(len(LABELS), activation="softmax")(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    from sklearn.metrics import confusion_matrix, f1_score
    f1 = f1_score(y_true, y_pred, labels=range(len(LABELS)), average=None, zero_division=0)
    return {"accuracy": round(float(np.mean(y_true == y_pred)), 4),
            "f1": {lab: round(float(v), 4) for lab, v in zip(LABELS, f1)},
            "macro_f1": round(float(np.mean(f1)), 4),
            "confusion": confusion_matrix(y_true, y_pred, labels=range(len(LABELS))).tolist(),
            "n": int(len(y_true))}


def run_experiment(sunnybrook: Path, realism: list[str] = ("v1", "v2"), n_patients: int = 60,
                   epochs: int = 8, seed: int = 0, domain: str = "1.5T") -> dict:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from .sunnybrook import SunnybrookLoader
    from .synth import SyntheticGenerator

    prep = Preprocessing(size=INPUT_SIZE, channels=1)
    real = SunnybrookLoader(image_size=128).load(sunnybrook)
    x_real, y_real = prep.apply(real.images), real.y
    result = {"config": {"n_patients": n_patients, "epochs": epochs, "seed": seed, "domain": domain,
                         "input_size": INPUT_SIZE, "preprocessing": prep.key(), "model": "tiny_cnn 2x(16-32-64) BN0.9",
                         "augmentation": "rotation +-45 deg per epoch", "real": real.name},
              "versions": {"keras": keras.__version__, "numpy": np.__version__, "python": platform.python_version()},
              "machine": f"{platform.machine()} {os.cpu_count()} cpu",
              "real_counts": {lab: int((y_real == i).sum()) for i, lab in enumerate(LABELS)},
              "runs": {}}
    for version in realism:
        t0 = time.perf_counter()
        gen = SyntheticGenerator(domain=domain, image_size=128, realism=version)
        train = gen.generate(n_patients, seed, progress=False)
        held = gen.generate(n_patients + 15, seed, progress=False).subset(
            [f"syn-{gen.preset().name}-s{seed}-{i:04d}" for i in range(n_patients, n_patients + 15)])
        x_tr, y_tr = prep.apply(train.images), train.y
        model = tiny_cnn(seed=seed)
        rng = np.random.default_rng(seed)
        counts = np.bincount(y_tr, minlength=len(LABELS))
        weights = {i: float(len(y_tr) / (len(LABELS) * max(c, 1))) for i, c in enumerate(counts)}
        for _ in range(epochs):
            xa = rotate_batch(x_tr[..., 0], 45.0, rng)[..., None]
            model.fit(xa, y_tr, batch_size=32, epochs=1, verbose=0, class_weight=weights, shuffle=True)
        pred_real = model.predict(x_real, verbose=0).argmax(1)
        pred_held = model.predict(prep.apply(held.images), verbose=0).argmax(1)
        result["runs"][version] = {"real": scores(y_real, pred_real), "synthetic_holdout": scores(held.y, pred_held),
                                   "train_images": int(len(y_tr)), "seconds": round(time.perf_counter() - t0, 1)}
    return result
