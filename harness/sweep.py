"""Run a sweep: expand the grid, skip finished trials, hand the rest to an executor, store each row.

`Sweep` is the driver: it plans, and it alone writes the results store; where trials run is
the executor's business (`harness.executors`: in this process for `isolation: session`, a
fresh process per trial for `isolation: process`, Ray tasks for `--executor ray`).

Crash safety: a trial's row is written in one SQLite transaction as soon as it is back; kill -9
at any moment loses only the trials in flight, and `--resume` skips every trial whose id
(hash of its config) is already done.

`run_trial` (one trial end to end) and `ensure_source` (a `source:` model, trained once) live in
`harness.trial` and are re-exported here: they are what executors run.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import socket
import time
from contextlib import closing
from importlib import metadata
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .backbones import get_backbone
from .config import SweepConfig, TrialSpec
from .executors import Executor, Started, SweepJob, embedded_executor
from .results import ResultStore
from .trial import ensure_source, run_trial, source_root_for  # noqa: F401  (one trial: harness.trial)


# ---------------------------------------------------------------------------- environment

def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("tl-medimg", "keras", "tensorflow", "tensorflow-cpu", "jax", "torch", "numpy", "scikit-learn", "pandas"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def keras_device() -> tuple[str, str]:
    """(backend, device), asking only the active backend: 'gpu: <GPU name>' ('gpu x2: ...' for
    several), else 'cpu: <CPU model>' (the name the throughput references match)."""
    import keras

    backend = keras.backend.backend()
    gpus: list[str] = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # tf-only branch

            gpus = [tf.config.experimental.get_device_details(d).get("device_name") or "GPU"
                    for d in tf.config.list_physical_devices("GPU")]
        elif backend == "jax":
            import jax

            gpus = [getattr(d, "device_kind", "") or d.platform for d in jax.devices() if d.platform != "cpu"]
        elif backend == "torch":
            import torch

            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as exc:  # never fail a trial on device introspection
        return backend, f"unknown ({exc.__class__.__name__})"
    if gpus:
        return backend, f"gpu{f' x{len(gpus)}' if len(gpus) > 1 else ''}: {gpus[0]}"
    return backend, f"cpu: {cpu_model()}"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info() -> str:
    return json.dumps({"host": socket.gethostname(), "platform": platform.platform(), "cpu": platform.processor()
                       or platform.machine(), "cpus": os.cpu_count()}, sort_keys=True)


def _reset_peak_rss() -> bool:
    try:  # Linux: writing 5 resets the VmHWM high-water mark of this process
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- one trial

def load_trial_data(trial: dict, cache_dir: Path):
    from .data import load_dataset

    d = trial["data"]
    return load_dataset(d["spec"], cache_dir=cache_dir / "data", image_size=d["image_size"], frames=d["frames"])


def split_patients(dataset, trial: dict) -> tuple[list[str], list[str]]:
    """Held-out test patients fixed by data.split_seed; training subset of n patients by the trial seed."""
    from .data import train_test_patients
    from .data.splits import training_subset

    d = trial["data"]
    train, test = train_test_patients(dataset.table, test_fraction=d["test_fraction"], seed=d["split_seed"])
    return training_subset(train, trial.get("train_patients"), trial["seed"]), list(test)


# ---------------------------------------------------------------------------- the sweep (the driver)

class Sweep:
    """A configured sweep bound to a store; `run()` executes what is not done yet.

    The sweep is the driver: it plans the trials, hands them to an executor (where they run:
    this process, a fresh process each, or Ray tasks; see harness.executors) and records every
    row the executor hands back. Only the driver writes the store."""

    def __init__(self, config: SweepConfig, store_path: str | Path | None = None, resume: bool = False,
                 progress: bool = True, executor: Executor | None = None):
        self.config = config
        self.store_path = Path(store_path) if store_path else config.default_store()
        self.resume = resume
        self.progress = progress
        self.executor = executor
        self.cache_dir = config.cache_dir
        self.sources_root = self.store_path.parent / "sources"

    def plan(self) -> tuple[list[TrialSpec], list[TrialSpec]]:
        """(to run, already done) trials; reads the store without writing to it."""
        trials = self.config.trials()
        done = ResultStore(self.store_path).done_ids()
        return [t for t in trials if t.trial_id not in done], [t for t in trials if t.trial_id in done]

    def run(self) -> dict:
        """Run every trial not done yet. Raises SweepError (nothing run) for a refused resume or a bad store,
        ExecutorError (nothing run) for an executor that cannot start; KeyboardInterrupt passes through
        after the executor has stopped what was running (every recorded row stays)."""
        todo, done = self.plan()
        if done and not self.resume:
            raise SweepError(f"{self.store_path} already holds {len(done)} finished trial(s) of this sweep; "
                             "add --resume to continue it, or give a new --store")
        from .plan import plan_sweep

        plan_sweep(self.config, todo)                             # bad data fails here (metadata only) ...
        store = ResultStore(self.store_path).initialise()       # ... and a bad store path, before any trial
        summary = {"store": str(self.store_path), "trials": len(todo) + len(done), "skipped_done": len(done),
                   "ran": len(todo), "failed": 0}
        if not todo:
            return summary                                       # nothing to run: no executor to start
        executor = self.executor or embedded_executor(self.config.isolation)
        job = SweepJob(self.config.name, self.cache_dir, self.sources_root)
        with executor, SweepProgress(len(todo) + len(done), len(done), f"sweep {self.config.name}",
                                     enabled=self.progress) as bar, closing(executor.run(todo, job)) as events:
            for event in events:
                if isinstance(event, Started):
                    bar.started(event.trial)
                    continue
                store.record(event.row)
                summary["failed"] += event.row["status"] != "done"
                bar.finished(event.row)
        return summary


class SweepProgress:
    """The sweep's progress bar, whatever the executor: trials done (ETA from tqdm), running, failed."""

    def __init__(self, total: int, done: int, desc: str, enabled: bool = True):
        self.bar = tqdm(total=total, initial=done, desc=desc, unit="trial", disable=not enabled, dynamic_ncols=True)
        self.running: dict[str, str] = {}
        self.failed = 0

    def started(self, spec: TrialSpec) -> None:
        self.running[spec.trial_id] = spec.label()
        self._show()

    def finished(self, row: dict) -> None:
        self.running.pop(row["trial_id"], None)
        self.failed += row["status"] != "done"
        self.bar.update()
        self._show()

    def _show(self) -> None:
        latest = next(reversed(self.running.values()), "")
        self.bar.set_postfix_str(f"running {len(self.running)}, failed {self.failed}" + (f" | {latest}" if latest else ""))

    def __enter__(self) -> "SweepProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()


class SweepError(RuntimeError):
    """A sweep that cannot start (nothing was run or written)."""
