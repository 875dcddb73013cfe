"""What every executor shares: the job description, the events it reports, guarded trial runs.

An executor decides *where* trials run (this process, a fresh process, a Ray cluster); it
never writes the results store. `Executor.run(trials, job)` is a generator: it yields
`Started(spec)` when a trial is handed out and `Finished(row)` when its row is back, and the
driver (`harness.sweep.Sweep`) records each row and draws the progress bar. Closing the
generator (Ctrl-C, an error in the driver) stops whatever is still running.
"""
from __future__ import annotations

import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Sequence

from ..config import TrialSpec

# run_trial(trial_dict, cache_dir, sources_root) -> row; the sweep's default is harness's own run_trial
TrialRunner = Callable[[dict, Path, Path], dict]


@dataclass(frozen=True)
class SweepJob:
    """What the trials of one sweep share: its name, the cache folder, the folder of source models."""

    sweep: str
    cache_dir: Path
    sources_root: Path


@dataclass(frozen=True)
class Started:
    """A trial was handed to the executor's workers."""

    trial: TrialSpec


@dataclass(frozen=True)
class Finished:
    """A trial's row is back (status done or failed); the driver stores it."""

    row: dict


Event = Started | Finished


class ExecutorError(RuntimeError):
    """An executor that cannot start (missing package, unreachable cluster, impossible resources).

    Raised before any trial runs; the message says what to do."""


class Executor(ABC):
    """Runs trials somewhere and reports their rows; only the driver writes the store."""

    name: ClassVar[str]

    def open(self) -> None:
        """Acquire what the trials run on (start or join a cluster); ExecutorError if it cannot."""

    def close(self) -> None:
        """Release what `open` acquired; safe to call after a failure or Ctrl-C."""

    def __enter__(self) -> "Executor":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def run(self, trials: Sequence[TrialSpec], job: SweepJob) -> Iterator[Event]:
        """Run `trials`, yielding `Started` and `Finished` events; closing the generator stops the rest."""

    def describe(self) -> dict[str, Any]:
        """Where and how trials run, for the row's provenance (`timings["executor"]`)."""
        return {"name": self.name}


def default_runner() -> TrialRunner:
    """harness's own `run_trial`, imported when a trial runs (it pulls in Keras)."""
    from ..sweep import run_trial

    return run_trial


def failed_row(trial: dict, sweep: str, error: str, started: float | None = None) -> dict:
    """The row of a trial that raised or whose worker died: its config and the error, no metrics."""
    from ..sweep import library_versions, machine_info

    return {"trial_id": trial["trial_id"], "sweep": sweep, "status": "failed", "backbone": trial["backbone"],
            "strategy": trial["strategy"], "weights": trial["weights"], "seed": trial["seed"],
            "train_patients": trial.get("train_patients"), "config": trial, "error": error,
            "versions": library_versions(), "machine": machine_info(), "started_at": started}


def run_guarded(runner: TrialRunner | None, trial: dict, job: SweepJob, placement: dict | None = None) -> dict:
    """Run one trial; an exception becomes a failed row with its traceback (a bad trial never stops a sweep).

    The row leaves out the test probabilities (`harness bench` reads them from `run_trial`
    itself), so nothing bulky crosses a process or network boundary."""
    started = time.time()
    try:
        row = (runner or default_runner())(trial, job.cache_dir, job.sources_root)
        row = {k: v for k, v in row.items() if k != "test_proba"}
        row["sweep"] = job.sweep
    except Exception:
        row = failed_row(trial, job.sweep, traceback.format_exc(limit=8), started)
    if placement:
        row["timings"] = {**(row.get("timings") or {}), "executor": placement}
    return row
