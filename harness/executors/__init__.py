"""Where trials run (placement only; the driver in `harness.sweep` plans and records).

- `local`: in this process, one after another (`isolation: session`, the default).
- `process`: each trial in a fresh spawned process (`isolation: process`).
- `ray`: Ray tasks on a local instance or a cluster (`harness sweep --executor ray`; needs
  the `ray` extra).

Each is an `Executor`: `with executor:` acquires its resources, `executor.run(trials, job)`
yields `Started` / `Finished` events, and only the driver writes the results store.
"""
from __future__ import annotations

from .base import Event, Executor, ExecutorError, Finished, Started, SweepJob, failed_row, run_guarded


def embedded_executor(isolation: str) -> Executor:
    """The executor a config's `isolation` asks for (what `harness sweep` uses without --executor ray)."""
    if isolation == "process":
        from .process import ProcessExecutor

        return ProcessExecutor()
    from .local import LocalExecutor

    return LocalExecutor()


def ray_executor(**options) -> Executor:
    """A `RayExecutor` (imports Ray; ExecutorError with the install command when it is missing)."""
    from .ray import RayExecutor

    return RayExecutor(**options)


__all__ = ["Event", "Executor", "ExecutorError", "Finished", "Started", "SweepJob", "embedded_executor",
           "failed_row", "ray_executor", "run_guarded"]
