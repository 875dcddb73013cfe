"""Process executor (`isolation: process`): each trial in a fresh process, one at a time.

The process is started with multiprocessing 'spawn' (no fork of a live TensorFlow runtime),
so memory cannot creep across long trials of big backbones. The child sends its row back
over a pipe and exits; the driver records it. A child that dies without a row (killed,
out of memory, a crash in native code) is recorded as failed with its exit code.
"""
from __future__ import annotations

import multiprocessing as mp
from typing import Iterator, Sequence

from ..config import TrialSpec
from .base import Event, Executor, Finished, Started, SweepJob, TrialRunner, failed_row, run_guarded

STOP_GRACE_S = 10.0


class ProcessExecutor(Executor):
    """Run each trial in its own spawned process. `runner` (picklable) replaces `run_trial` (tests)."""

    name = "process"

    def __init__(self, runner: TrialRunner | None = None):
        self.runner = runner

    def run(self, trials: Sequence[TrialSpec], job: SweepJob) -> Iterator[Event]:
        context = mp.get_context("spawn")
        for spec in trials:
            yield Started(spec)
            yield Finished(self._run_one(context, spec.to_dict(), job))

    def _run_one(self, context, trial: dict, job: SweepJob) -> dict:
        import time

        started = time.time()
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(send, self.runner, trial, job, self.describe()),
                                name=f"harness-trial-{trial['trial_id']}")
        child.start()
        send.close()                      # the child holds the only write end: EOF means it is gone
        try:
            try:
                row = receive.recv()
            except EOFError:
                row = None
            child.join()
        finally:
            receive.close()
            _stop(child)
        if row is None:
            row = failed_row(trial, job.sweep, f"trial process exited with code {child.exitcode} before "
                                               "returning a row (killed, out of memory or crashed)", started)
        return row


def _child(send, runner: TrialRunner | None, trial: dict, job: SweepJob, placement: dict) -> None:
    """Entry point of the spawned process: run the trial and send its row to the driver."""
    row = run_guarded(runner, trial, job, placement)
    send.send(row)
    send.close()


def _stop(child) -> None:
    """Make sure the child is gone (after Ctrl-C or an error in the driver)."""
    if child.is_alive():
        child.terminate()
        child.join(STOP_GRACE_S)
    if child.is_alive():
        child.kill()
        child.join()
