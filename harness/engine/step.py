"""A Keras model compiled once, restored to its initial state for every (fold, learning rate) run.

The training step is traced once per model and reused: the learning rate lives in a
`keras.Variable` read by the Keras-2 decay schedule, so a new candidate is an `assign`, not
a rebuild (rebuilding and retracing cost more than the training itself on CPU).

`restore()` brings back *all* state a run can change: every model variable (weights,
BatchNorm moving statistics and the dropout layers' seed-generator states, which
`get_weights` leaves out) and every optimizer variable (step counter, momenta, loss scale).
So a run is a pure function of (initial state, learning rate, batches): it does not depend
on which runs came before it.

Steps per dispatch: with `steps_per_execution` 1 every batch is one `train_on_batch` call
from Python; with k > 1 a chunk of batches goes to Keras's own multi-step training function
(`compile(steps_per_execution=k)`, run through `fit` for one pass over the chunk, unshuffled):
k steps per call into the compiled graph (TensorFlow: a `tf.while_loop`; JAX: one jitted
function). The batches, their order and the updates are the same; what changes is how
often Python dispatches to the device. On a GPU that per-call cost is what made small
models slower than on the CPU; on this CPU it is not measurable (TensorFlow, MobileNetV1-0.25
at 64 px: 33 ms per step either way), so `auto` is 1 on CPU and 64 on an accelerator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


@dataclass(frozen=True)
class OptimizerSettings:
    """SGD as in Ho & Kim: Nesterov momentum and Keras-2 inverse-time decay per step."""

    momentum: float
    nesterov: bool
    decay: float


def as_inputs(arrays: list[np.ndarray]):
    """A single array for single-input models, the list otherwise."""
    return arrays[0] if len(arrays) == 1 else arrays


def resolve_steps_per_execution(setting: int | str, device: str) -> int:
    """Steps per dispatch for `setting` ('auto': 1 on CPU, 64 on an accelerator)."""
    if setting == "auto":
        return 64 if device.startswith(("gpu", "cuda")) else 1
    return max(1, int(setting))


def train_steps(model, x: list[np.ndarray], y, batch_size: int, steps_per_execution: int = 1) -> int:
    """`batch_size` slices of (x, y) in order, one update each; `y` may be a list (one per output)."""
    n = len(y[0]) if isinstance(y, list) else len(y)
    steps = -(-n // batch_size)
    if steps_per_execution > 1:
        model.fit(as_inputs(x), y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        return steps
    for b in range(0, n, batch_size):
        batch_y = [t[b:b + batch_size] for t in y] if isinstance(y, list) else y[b:b + batch_size]
        model.train_on_batch(as_inputs([a[b:b + batch_size] for a in x]), batch_y)
    return steps


class CompiledModel:
    """`model` compiled once with SGD(keras2_decay(lr)); `restore(lr)` starts a fresh run."""

    def __init__(self, model, optimizer: OptimizerSettings, lr: float = 1e-3, steps_per_execution: int = 1):
        import keras

        self.model = model
        self.steps_per_execution = int(steps_per_execution)
        self.lr = keras.Variable(float(lr), dtype="float32", trainable=False, name="initial_learning_rate")
        sgd = keras.optimizers.SGD(learning_rate=keras2_decay(self.lr, optimizer.decay),
                                   momentum=optimizer.momentum, nesterov=optimizer.nesterov)
        sgd.initial_learning_rate = self.lr    # tracked: JAX/torch steps see it as optimizer state
        model.compile(optimizer=sgd, loss="sparse_categorical_crossentropy",
                      steps_per_execution=self.steps_per_execution)
        model.optimizer.build(model.trainable_variables)
        self.initial = self.snapshot()

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Every model variable (incl. seed-generator states) and every optimizer variable."""
        return ([np.array(v.numpy()) for v in self.model.variables],
                [np.array(v.numpy()) for v in self.model.optimizer.variables])

    def restore(self, lr: float, state=None) -> None:
        """Back to `state` (default: as compiled), then the run's learning rate."""
        model_values, optimizer_values = state or self.initial
        for v, value in zip(self.model.variables, model_values):
            v.assign(value)
        for v, value in zip(self.model.optimizer.variables, optimizer_values):
            v.assign(value)
        self.lr.assign(float(lr))          # after the restore, which also covers this variable

    def train_steps(self, x: list[np.ndarray], y, batch_size: int) -> int:
        """Consecutive steps over `batch_size` slices of (x, y); the last may be partial. Returns steps."""
        return train_steps(self.model, x, y, batch_size, self.steps_per_execution)

    def predict(self, x: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(as_inputs(x)))
