"""In-session executor (`isolation: session`, the default): trials run one after another in this process.

After each trial `keras.backend.clear_session()` + `gc.collect()` free its graph and
weights, without paying Keras/TensorFlow start-up (several seconds) for every trial.
"""
from __future__ import annotations

import gc
from typing import Iterator, Sequence

from ..config import TrialSpec
from .base import Event, Executor, Finished, Started, SweepJob, TrialRunner, run_guarded


class LocalExecutor(Executor):
    """Run each trial here, in order. `runner` replaces `run_trial` (tests)."""

    name = "local"

    def __init__(self, runner: TrialRunner | None = None):
        self.runner = runner

    def run(self, trials: Sequence[TrialSpec], job: SweepJob) -> Iterator[Event]:
        for spec in trials:
            yield Started(spec)
            row = run_guarded(self.runner, spec.to_dict(), job, self.describe())
            _release_keras()
            yield Finished(row)


def _release_keras() -> None:
    """Drop the finished trial's graph and weights and reset the precision policy it may have set."""
    import keras

    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    gc.collect()
