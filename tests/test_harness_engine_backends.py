"""One engine interface on the TensorFlow and the JAX backend: train, restore, rerun identically, learn.

Each backend runs in its own subprocess (Keras fixes the backend at import time).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).with_name("engine_backend_check.py")


def _run(backend: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "JAX_PLATFORMS": "cpu",
           "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(CHECK)], env=env, capture_output=True, text=True, timeout=600,
                          cwd=CHECK.parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("ENGINE-CHECK "))
    return json.loads(line.split(" ", 1)[1])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_engine_trains_restores_and_learns(backend):
    pytest.importorskip(backend)
    r = _run(backend)
    assert r["backend"] == backend
    assert r["steps"] == 6 * 6 and r["images"] == 6 * 90          # 90 items, batch 16: 6 steps per epoch
    assert len(r["curve"]) == 6
    assert r["changed_by_training"] > 1e-3                        # training moved the predictions
    assert r["restored_equals_initial"]                           # restore() brings back the compiled state
    assert r["rerun_max_difference"] == 0.0 and r["curve_again"] == r["curve"]   # a run is a pure function
    assert r["val_accuracy"] >= 0.9                               # three separated clusters: chance is 1/3
    assert r["p_true_after"] > r["p_true_before"] + 0.3           # learned: the true class's probability rose


GROUP_CHECK = Path(__file__).with_name("engine_group_check.py")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_grouped_learning_rates_and_in_model_augmentation_on_each_backend(backend):
    """RunGroup's copies equal the runs alone, and the in-model rotation the host's, on TF and JAX."""
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "JAX_PLATFORMS": "cpu",
           "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(GROUP_CHECK)], env=env, capture_output=True, text=True, timeout=600,
                          cwd=GROUP_CHECK.parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("GROUP-CHECK ")).split(" ", 1)[1])
    assert r["backend"] == backend
    assert r["lr_effect"] > 0.05                      # the two learning rates do train differently
    assert r["group_vs_alone"] <= 1e-6                # each copy is its run alone
    assert r["augment_shape"] == [4, 24, 24, 3]
    assert r["augment_vs_host"] <= 1e-4               # on the 0-1 scale
