"""Several learning rates of one (fold, model) trained together: one step updates every run.

Cross-validation trains the same model on the same batches once per learning rate. A
`RunGroup` holds K copies of the model side by side in one Keras model (one output per
copy) and trains them with one optimizer whose update of each copy's variables uses that
copy's own learning-rate schedule. The total loss is the sum of the copies' losses and no
copy's output depends on another's variables, so each copy's gradient is its own loss's
gradient, and its update is exactly the single run's (same ops, same rate, same decay
step). What it saves: K−1 of every step's dispatches, input gathers and augmentations, and
on CPU the copies' independent ops run on different cores (`harness.engine.threads`).

A group starts from whatever state the single model holds (`load_from`): the strategy
prepares the run's initial state in its single model (weights, warm-started head,
BatchNorm statistics, dropout seeds) and the group copies it into every member.
"""
from __future__ import annotations

import numpy as np

from .step import OptimizerSettings, as_inputs, keras2_decay, train_steps


def _per_run_sgd(optimizer: OptimizerSettings, lr_vars: list, owner: list[int]):
    """SGD whose update of variable i uses the schedule of run `owner[i]` (an index into `lr_vars`)."""
    import keras

    schedules = [keras2_decay(v, optimizer.decay) for v in lr_vars]

    class PerRunSGD(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            run = owner[self._get_variable_index(variable)]
            return super().update_step(gradient, variable, schedules[run](self.iterations))

    sgd = PerRunSGD(learning_rate=schedules[0], momentum=optimizer.momentum, nesterov=optimizer.nesterov)
    sgd.run_learning_rates = lr_vars          # tracked: JAX/torch steps see them as optimizer state
    return sgd


class RunGroup:
    """K copies of `model` compiled as one, each with its own learning rate; `CompiledModel`'s interface."""

    def __init__(self, model, optimizer: OptimizerSettings, size: int, steps_per_execution: int = 1):
        import keras

        self.size = int(size)
        self.steps_per_execution = int(steps_per_execution)
        self.template = model
        self.members = []
        plain = keras.Model(model.input, model.output)         # the same layers, without the compiled optimizer
        for k in range(self.size):
            copy = keras.models.clone_model(plain)
            copy.name = f"run_{k}"
            self.members.append(copy)
        inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=f"group_in_{i}") for i, t in enumerate(model.inputs)]
        outputs = [m(as_inputs(inputs)) for m in self.members]
        self.model = keras.Model(as_inputs(inputs), outputs, name="run_group")
        self.lrs = [keras.Variable(1e-3, dtype="float32", trainable=False, name=f"lr_run_{k}") for k in range(self.size)]
        run_of = {id(v): k for k, m in enumerate(self.members) for v in m.trainable_variables}
        if len(run_of) != len(self.model.trainable_variables):
            raise RuntimeError("the group members share trainable variables; these runs cannot be grouped")
        owner = [run_of[id(v)] for v in self.model.trainable_variables]
        self.model.compile(optimizer=_per_run_sgd(optimizer, self.lrs, owner),
                           loss=["sparse_categorical_crossentropy"] * self.size,
                           steps_per_execution=self.steps_per_execution)
        self.model.optimizer.build(self.model.trainable_variables)
        self.initial_optimizer = [np.array(v.numpy()) for v in self.model.optimizer.variables]

    def load_from(self, model, lrs: list[float]) -> None:
        """Every member := `model`'s current state (all variables, incl. seed states); fresh optimizer; rates."""
        if len(lrs) != self.size:
            raise ValueError(f"a group of {self.size} runs needs {self.size} learning rates, got {len(lrs)}")
        values = [np.array(v.numpy()) for v in model.variables]
        for member in self.members:
            if len(member.variables) != len(values):
                raise RuntimeError("a group member's variables do not match its template's")
            for v, value in zip(member.variables, values):
                v.assign(value)
        for v, value in zip(self.model.optimizer.variables, self.initial_optimizer):
            v.assign(value)
        for v, lr in zip(self.lrs, lrs):
            v.assign(float(lr))

    def train_steps(self, x: list[np.ndarray], y: np.ndarray, batch_size: int) -> int:
        """Like `CompiledModel.train_steps`; every member steps on the same batches."""
        return train_steps(self.model, x, [y] * self.size, batch_size, self.steps_per_execution)

    def predict(self, x: list[np.ndarray]) -> np.ndarray:
        """(K, n, classes): each member's predictions."""
        return np.stack([np.asarray(p) for p in self.model.predict_on_batch(as_inputs(x))])
