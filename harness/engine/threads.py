"""How the TensorFlow CPU runtime spreads work over the cores: a per-process choice, made once.

"wide" (TensorFlow's default, and `auto`): each op split over all cores. "ops": one thread
per op, independent ops in parallel. In isolation a small model's training step is faster
with "ops"; in a whole trial it made no difference, so the default stays TensorFlow's.
Measured on this 2-core machine (TensorFlow 2.21 CPU, load < 1.5):

| what | wide | ops |
|---|---|---|
| one training step, MobileNetV1-0.25, 64 px, batch 16 | 36 ms | 26 ms |
| one step of two learning rates together (`RunGroup`) | 55 ms | 32 ms |
| one step, ResNet50V2, 160 px, batch 8 | 823 ms | 934 ms |
| quick preset's full fine-tune trial (MobileNetV1-0.25, 64 px), cross-validation | 17.5 s | 18.0 s |

TensorFlow fixes its thread pools when its runtime starts, so the first trial of a process
decides; each result row records the pools in use (`timings["engine"]`). Other backends
are left as they are.
"""
from __future__ import annotations

import os

POLICIES = ("auto", "ops", "wide")
#: environment variable that overrides `auto` (`harness sweep --cpu-threads` sets it for child processes)
ENV = "HARNESS_CPU_THREADS"


def resolve(policy: str) -> str:
    """'ops' or 'wide' for `policy` ('auto' is TensorFlow's default, 'wide': see the table above)."""
    policy = os.environ.get(ENV, policy) if policy == "auto" else policy
    if policy not in POLICIES:
        raise ValueError(f"CPU thread policy must be one of {POLICIES}. Got {policy!r} instead.")
    if policy != "auto":
        return policy
    return "wide"


def configure(policy: str = "auto") -> dict:
    """Set TensorFlow's thread pools for `policy` if its runtime has not started; report what is in use."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return {"cpu_threads": "backend default"}
    import tensorflow as tf  # tf-only branch

    chosen = resolve(policy)
    cores = os.cpu_count() or 1
    intra, inter = (1, cores) if chosen == "ops" else (0, 0)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
        applied = chosen
    except RuntimeError:        # the runtime already started (an earlier trial in this process): keep its pools
        applied = "unchanged (runtime already started)"
    return {"cpu_threads": applied,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "all cores",
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or "all cores"}
