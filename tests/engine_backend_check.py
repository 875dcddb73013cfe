"""Run the training engine on whichever Keras backend KERAS_BACKEND names; print one JSON line.

Started in a subprocess by tests/test_harness_engine_backends.py (Keras picks its backend at
import time). Tiny on purpose: the Ho & Kim dense head on 8 features, three well-separated
classes, `CompiledModel` + `fit_epochs` as the strategies use them.
"""
from __future__ import annotations

import json

import numpy as np


def main() -> dict:
    import keras

    from harness.engine import AugmentationSpec, CompiledModel, OptimizerSettings, fit_epochs, predict_rows
    from harness.strategies import TrainSettings
    from harness.strategies.network import KerasStrategy

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 60)
    centres = np.eye(3, 8) * 4.0
    x = (centres[y] + rng.normal(size=(len(y), 8))).astype("float32")
    train, val = np.arange(0, len(y), 2), np.arange(1, len(y), 2)

    inp = keras.Input(shape=(8,), name="features")
    model = keras.Model(inp, KerasStrategy(None, TrainSettings(), {"lrs": [5e-2]}).head(inp, 0))
    compiled = CompiledModel(model, OptimizerSettings(momentum=0.9, nesterov=True, decay=1e-6), lr=5e-2)
    source = lambda idx, draws: [x[idx]]  # noqa: E731
    accuracy = lambda: float(np.mean(predict_rows(compiled, source, val, 64).argmax(1) == y[val]))  # noqa: E731
    before = predict_rows(compiled, source, val, 64)
    run = dict(epochs=6, batch_size=16, seed=0, augmentation=AugmentationSpec(rotation=0.0), mode="bank",
               validate=accuracy)

    compiled.restore(5e-2)
    first = fit_epochs(compiled, source, train, y, **run)
    after = predict_rows(compiled, source, val, 64)
    compiled.restore(5e-2)
    restored = predict_rows(compiled, source, val, 64)
    second = fit_epochs(compiled, source, train, y, **run)
    again = predict_rows(compiled, source, val, 64)
    return {"backend": keras.backend.backend(), "curve": first.curve, "curve_again": second.curve,
            "steps": first.steps, "images": first.images,
            "changed_by_training": float(np.abs(after - before).max()),
            "restored_equals_initial": bool(np.array_equal(restored, before)),
            "rerun_max_difference": float(np.abs(again - after).max()),
            "val_accuracy": float(np.mean(after.argmax(1) == y[val])),
            "p_true_before": float(before[np.arange(len(val)), y[val]].mean()),
            "p_true_after": float(after[np.arange(len(val)), y[val]].mean())}


if __name__ == "__main__":
    print("ENGINE-CHECK " + json.dumps(main()))
