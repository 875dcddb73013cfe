"""RunGroup and the in-model augmentation on whichever Keras backend KERAS_BACKEND names; one JSON line.

Started in a subprocess by tests/test_harness_engine_backends.py. Two learning rates of a
small dense model with dropout trained one after another (`CompiledModel`) and together
(`RunGroup`); the device augmentation layer against the SciPy reference on the host.
"""
from __future__ import annotations

import json

import numpy as np


def main() -> dict:
    import keras

    from harness.engine import AugmentationSpec, CompiledModel, OptimizerSettings, RunGroup, fit_epochs
    from harness.engine.augment import device_augment_layer
    from harness.engine.inputs import rotate_and_zoom

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = ((x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1)).astype("int64")
    keras.utils.set_random_seed(1)
    inp = keras.Input((8,))
    h = keras.layers.Dropout(0.3, seed=1)(keras.layers.Dense(16, activation="relu")(inp))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(h))
    opt, lrs = OptimizerSettings(0.9, True, 1e-4), [0.05, 0.01]
    source = lambda idx, draws: [x[idx]]             # noqa: E731
    kwargs = dict(epochs=3, batch_size=16, seed=0, augmentation=AugmentationSpec(), mode="bank")
    compiled = CompiledModel(model, opt, lrs[0])
    alone = []
    for lr in lrs:
        compiled.restore(lr)
        fit_epochs(compiled, source, np.arange(90), y, **kwargs)       # 90 items: a partial last batch
        alone.append(np.asarray(compiled.predict([x])))
    compiled.restore(lrs[0])
    group = RunGroup(compiled.model, opt, len(lrs))
    group.load_from(compiled.model, lrs)
    fit_epochs(group, source, np.arange(90), y, **kwargs)
    together = group.predict([x])

    grey = rng.uniform(0, 255, size=(4, 24, 24)).astype("float32")
    angles = np.array([0.0, 10.0, -30.0, 45.0], dtype="float32")
    device = np.asarray(device_augment_layer("unit", 0.6, True)(grey, angles))
    host = np.stack([np.clip(rotate_and_zoom(g, float(a), 0.6), 0, 255) / 255.0 for g, a in zip(grey, angles)])
    return {"backend": keras.backend.backend(), "group_vs_alone": float(np.abs(together - np.stack(alone)).max()),
            "lr_effect": float(np.abs(alone[0] - alone[1]).max()),
            "augment_vs_host": float(np.abs(device - host[..., None]).max()), "augment_shape": list(device.shape)}


if __name__ == "__main__":
    print("GROUP-CHECK " + json.dumps(main()))
