"""How the TensorFlow CPU runtime spreads work over the cores: a per-process choice, made once.

Small models (the quick preset's MobileNet at 64 px, CBR-Tiny at 32 px) are bound by the
cost of each op, not by its arithmetic: splitting a 16×32×32×8 convolution over two threads
costs more in hand-offs than it saves. For them, one thread per op and independent ops in
parallel ("ops") is faster; for large models, each op split over all cores ("wide", TF's
default) is. Measured on this 2-core machine (TensorFlow 2.21 CPU, batch of one training
step, `uptime` load < 1):

| model, input, batch | wide (TF default) | ops (1 intra, 2 inter) |
|---|---|---|
| MobileNetV1-0.25, 64 px, 16 | 36 ms | 26 ms |
| the same, two learning rates in one step (`harness.engine.group`) | 55 ms | 32 ms |
| ResNet50V2, 160 px, 8 | 823 ms | 934 ms |

`auto` picks "ops" when the first model this process trains has an input of at most
`SMALL_INPUT` pixels and no GPU is in use, else "wide". TensorFlow fixes its thread pools
when its runtime starts, so the choice holds for the whole process; each result row records
the pools actually in use (`timings["engine"]`). Other backends are left as they are.
"""
from __future__ import annotations

import os

POLICIES = ("auto", "ops", "wide")
#: inputs up to this size count as small for `auto`
SMALL_INPUT = 128
#: environment variable that overrides `auto` (`harness sweep --cpu-threads` sets it for child processes)
ENV = "HARNESS_CPU_THREADS"


def resolve(policy: str, input_size: int, device: str) -> str:
    """'ops' or 'wide' for `policy` ('auto' decides from the input size and the device)."""
    policy = os.environ.get(ENV, policy) if policy == "auto" else policy
    if policy not in POLICIES:
        raise ValueError(f"CPU thread policy must be one of {POLICIES}. Got {policy!r} instead.")
    if policy != "auto":
        return policy
    on_gpu = device.startswith(("gpu", "cuda"))
    return "ops" if not on_gpu and int(input_size) <= SMALL_INPUT else "wide"


def configure(policy: str, input_size: int, device: str) -> dict:
    """Set TensorFlow's thread pools for `policy` if its runtime has not started; report what is in use."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return {"cpu_threads": "backend default"}
    import tensorflow as tf  # tf-only branch

    chosen = resolve(policy, input_size, device)
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
