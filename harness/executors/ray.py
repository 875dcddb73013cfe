"""Ray executor: trials as Ray tasks on a local instance or a cluster; only the driver writes the store.

- Placement only: the driver (`harness.sweep.Sweep`) plans the trials and records every row;
  a task returns its row as its result, so the SQLite store never sees a second writer or a
  network filesystem.
- Each `source:` model is trained once, first, as its own task; its weights travel through
  Ray's object store (the bytes of `base.weights.h5` and `source.json`) to the trials that
  need it, which wait for it and write it into their node's cache folder. Nodes share no disk.
  The driver keeps a copy next to the store, so `--resume` does not train it again.
- Tasks carry per-trial resources (`gpus_per_trial`, `cpus_per_trial`); at most
  `max_in_flight` are submitted at a time, results taken as they finish (`ray.wait`).
- A worker serves one task (`max_calls=1`) and limits its framework's GPU memory before Keras
  imports its backend, so fractional GPUs can pack small trials and no memory creeps from one
  trial to the next.
- A task whose worker dies is retried `max_retries` times, then recorded as failed with Ray's
  error. A trial that raises is recorded as failed at once (retrying a deterministic error
  would only repeat it). Closing the run (Ctrl-C) cancels every task still in flight.
- A local instance (no `address`) binds 127.0.0.1, has no dashboard and is shut down when the
  run ends, however it ends.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..config import TrialSpec
from ..weights import SOURCE_FILE, SOURCE_META
from .base import Event, Executor, ExecutorError, Finished, Started, SweepJob, TrialRunner, failed_row, run_guarded

RAY_REQUIREMENT = "ray>=2.40"
# Ray's own switch for single-machine instances (its default on macOS and Windows): every Ray
# process then listens on 127.0.0.1 only. Read when `ray` is imported, so it is set before that.
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# A process given a share of a GPU preallocates this part of its share (JAX) or is capped there
# (torch): each process also needs room outside the allocator for its CUDA context.
GPU_SHARE_USABLE = 0.9
WAIT_S = 1.0                       # ray.wait timeout: Ctrl-C and the progress bar stay responsive
SOURCE_FILES = (SOURCE_META, SOURCE_FILE)          # written in this order: the weights file marks a complete model


def import_ray(local_only: bool = False):
    """The `ray` module, or ExecutorError saying how to install it."""
    if local_only and "ray" not in sys.modules:
        os.environ.setdefault(LOCAL_ONLY_ENV, "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(f"the ray executor needs Ray, which is not installed ({exc}); install it with "
                            f"`pip install -e \".[ray]\"` (or `pip install '{RAY_REQUIREMENT}'`), "
                            "or run without --executor ray") from None
    return ray


class RayExecutor(Executor):
    """Trials as Ray tasks.

    address: None starts a private local instance (127.0.0.1, no dashboard, stopped at the
        end); "auto" joins the cluster `ray start` runs on this machine; "HOST:PORT" joins
        that cluster's head. A process already connected to Ray (`ray.init()` before the
        sweep) keeps its connection and the executor leaves it open.
    gpus_per_trial: GPUs per trial; a fraction (0.25) packs trials onto one GPU, above 1 a
        whole number. None: 1 when some node has a GPU, else 0 (CPU trials never see a GPU).
    cpus_per_trial: CPUs per trial (> 0 unless the trial takes GPUs).
    max_retries: attempts after a worker dies before the trial is recorded as failed.
    max_in_flight: trials submitted at once; None: as many as the cluster fits at a time.
    runner: replaces `run_trial` (tests); it is shipped to the workers.
    """

    name = "ray"

    def __init__(self, address: str | None = None, gpus_per_trial: float | None = None, cpus_per_trial: float = 1.0,
                 max_retries: int = 2, max_in_flight: int | None = None, runner: TrialRunner | None = None):
        check_resources(gpus_per_trial, cpus_per_trial)
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ExecutorError(f"max_retries must be a whole number >= 0. Got {max_retries!r} instead.")
        if max_in_flight is not None and (not isinstance(max_in_flight, int) or max_in_flight < 1):
            raise ExecutorError(f"max_in_flight must be a whole number >= 1. Got {max_in_flight!r} instead.")
        self.address = address
        self.gpus_per_trial = gpus_per_trial
        self.cpus_per_trial = float(cpus_per_trial)
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.runner = runner
        self._ray = import_ray(local_only=address is None)
        self._connected_here = False

    # ------------------------------------------------------------------ connection
    def open(self) -> None:
        """Start or join Ray; ExecutorError if it cannot (nothing has run yet)."""
        ray = self._ray
        if ray.is_initialized():
            return
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is None:
            try:
                ray.init(address="local", **options)
            except Exception as exc:
                ray.shutdown()                   # what did start must not outlive the command
                raise ExecutorError(f"cannot start a local Ray instance ({type(exc).__name__}: {exc})") from None
        else:
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise ExecutorError(f"cannot join a Ray cluster at {self.address!r} ({exc}); start one with "
                                    "`ray start --head` (see docs/harness.md, 'Sweeps on a Ray cluster'), or "
                                    "leave out --address to run on a local instance") from None
        self._connected_here = True

    def close(self) -> None:
        """Disconnect, and stop the local instance if this executor started it."""
        if self._connected_here and self._ray.is_initialized():
            try:
                self._ray.shutdown()
            except Exception as exc:   # never mask the sweep's own outcome
                print(f"harness: warning: ray.shutdown() failed ({exc})", file=sys.stderr)
        self._connected_here = False

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "cluster": self.address or "local instance", "gpus_per_trial": self.gpus_per_trial, "cpus_per_trial": self.cpus_per_trial,
                "max_retries": self.max_retries}

    # ------------------------------------------------------------------ the run
    def run(self, trials: Sequence[TrialSpec], job: SweepJob) -> Iterator[Event]:
        ray = self._ray
        if not ray.is_initialized():
            raise ExecutorError("RayExecutor.run() before open(): use `with executor:` (Sweep does)")
        gpus, capacity = self._fit(ray)
        self.gpus_per_trial = gpus
        limit = self.max_in_flight or capacity
        placement = self.describe()
        worker = {"gpus": gpus, "keras_backend": os.environ.get("KERAS_BACKEND"), "workdir": str(Path.cwd())}
        node_job = SweepJob(job.sweep, job.cache_dir, job.cache_dir / "sources")
        options = {"num_cpus": self.cpus_per_trial, "num_gpus": gpus, "max_retries": self.max_retries}
        trial_task = ray.remote(max_calls=1, retry_exceptions=False)(_trial_task).options(**options)
        source_task = ray.remote(max_calls=1, retry_exceptions=False)(_source_task).options(**options)

        sources: dict[str, Any] = {}          # folder under sources_root -> object ref of its payload
        training: dict[Any, str] = {}         # ref of a source task still running -> its folder
        source_errors: dict[str, str] = {}
        for spec in trials:
            folder = source_folder(spec.to_dict(), job.sources_root)
            if folder is None:
                continue
            rel = folder.relative_to(job.sources_root).as_posix()
            if rel in sources:
                continue
            if (folder / SOURCE_FILES[-1]).is_file():
                sources[rel] = ray.put(read_source(folder))
            else:
                sources[rel] = source_task.remote(spec.to_dict(), node_job, worker)
                training[sources[rel]] = rel
        waiting = deque(sorted(trials, key=lambda s: _source_rel(s, job) in training.values()))  # stable

        in_flight: dict[Any, tuple[TrialSpec, str | None]] = {}
        try:
            while waiting or in_flight or training:
                while waiting and len(in_flight) < limit:
                    spec = waiting.popleft()
                    rel = _source_rel(spec, job)
                    ref = trial_task.remote(spec.to_dict(), node_job, worker, rel, sources.get(rel),
                                            self.runner, placement)
                    in_flight[ref] = (spec, rel)
                    yield Started(spec)
                ready, _ = ray.wait([*training, *in_flight], num_returns=1, timeout=WAIT_S)  # sources first
                for ref in ready:
                    if ref in training:
                        rel = training.pop(ref)
                        try:
                            install_source(ray.get(ref), job.sources_root / rel)   # the driver's copy
                        except (ray.exceptions.RayError, SourceError) as exc:
                            source_errors[rel] = _short(exc)
                        continue
                    spec, rel = in_flight.pop(ref)
                    try:
                        row = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        row = self._lost_row(spec, job, exc, source_errors.get(rel))
                    yield Finished(row)
        finally:
            for ref in [*in_flight, *training]:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or gone with its worker
                    pass

    def _lost_row(self, spec: TrialSpec, job: SweepJob, exc: Exception, source_error: str | None) -> dict:
        what = (f"its source model failed ({source_error})" if source_error else
                f"Ray could not complete it after {self.max_retries} retr{'y' if self.max_retries == 1 else 'ies'}")
        row = failed_row(spec.to_dict(), job.sweep, f"{what}: {type(exc).__name__}: {_short(exc)}")
        row["timings"] = {"executor": self.describe()}
        return row

    def _fit(self, ray) -> tuple[float, int]:
        """(GPUs per trial, trials the cluster runs at once); ExecutorError if no node fits one trial."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive", n.get("alive", False))]
        gpus = self.gpus_per_trial
        if gpus is None:
            gpus = 1.0 if any(r.get("GPU", 0) >= 1 for r in nodes) else 0.0
        capacity = sum(_fits(r, self.cpus_per_trial, gpus) for r in nodes)
        if capacity == 0:
            have = "; ".join(f"{r.get('CPU', 0):g} CPU, {r.get('GPU', 0):g} GPU" for r in nodes) or "no live node"
            raise ExecutorError(f"no node of the Ray cluster fits one trial of {self.cpus_per_trial:g} CPU and "
                                f"{gpus:g} GPU (nodes: {have}); lower --cpus-per-trial / --gpus-per-trial "
                                "or add nodes")
        return gpus, capacity


def check_resources(gpus: float | None, cpus: float) -> None:
    """Ray's rules for per-task resources, checked before anything starts."""
    if gpus is not None:
        if not isinstance(gpus, (int, float)) or gpus < 0 or (gpus > 1 and gpus != int(gpus)):
            raise ExecutorError(f"gpus_per_trial must be 0, a fraction up to 1 (e.g. 0.25) or a whole number. "
                                f"Got {gpus!r} instead.")
    if not isinstance(cpus, (int, float)) or cpus < 0:
        raise ExecutorError(f"cpus_per_trial must be a number >= 0. Got {cpus!r} instead.")
    if cpus == 0 and not gpus:
        raise ExecutorError("cpus_per_trial may be 0 only when each trial takes GPUs (--gpus-per-trial); "
                            "otherwise nothing would bound the trials a node runs at once. Got 0 instead.")


def _fits(resources: dict, cpus: float, gpus: float) -> int:
    counts = [math.floor(resources.get(kind, 0) / need + 1e-9) for kind, need in (("CPU", cpus), ("GPU", gpus))
              if need > 0]
    return min(counts)


def _short(exc: BaseException, limit: int = 2000) -> str:
    text = str(exc).strip()
    return text if len(text) <= limit else text[:limit] + " ..."


# ---------------------------------------------------------------------------- source models

class SourceError(RuntimeError):
    """A source-model task that returned an error instead of weights."""


def source_folder(trial: dict, sources_root: Path) -> Path | None:
    """Where `run_trial` looks for this trial's harness-trained source model (None: no `sources:` model)."""
    if not str(trial["weights"]).startswith("source:") or trial.get("source") is None:
        return None
    from ..backbones import get_backbone
    from ..sweep import source_root_for
    from ..weights import WeightsSpec, source_dir

    backbone = get_backbone(trial["backbone"])
    size = trial["input_size"] or backbone.input_size
    return source_dir(WeightsSpec.parse(trial["weights"]), backbone, size, source_root_for(trial, sources_root))


def _source_rel(spec: TrialSpec, job: SweepJob) -> str | None:
    folder = source_folder(spec.to_dict(), job.sources_root)
    return None if folder is None else folder.relative_to(job.sources_root).as_posix()


def read_source(folder: Path) -> dict:
    """A source model as plain bytes (what travels through the object store)."""
    return {"files": {name: (folder / name).read_bytes() for name in SOURCE_FILES}, "error": None}


def install_source(payload: dict, folder: Path) -> None:
    """Write a source model's files into `folder`, atomically; the weights file (the marker) last.

    Files that already hold the same bytes are left alone; different bytes (an older model
    with the same key) are replaced, so every trial of a sweep uses the driver's model."""
    if payload.get("error"):
        raise SourceError(payload["error"])
    folder.mkdir(parents=True, exist_ok=True)
    for name in SOURCE_FILES:
        data = payload["files"][name]
        target = folder / name
        if target.is_file() and _digest(target.read_bytes()) == _digest(data):
            continue
        tmp = folder / f".{name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- in the worker

def prepare_worker(worker: dict) -> dict:
    """Set the framework's memory limits before Keras imports its backend; returns what was set.

    gpus 0: the GPUs are hidden (a CPU trial never allocates on one). A fraction f < 1: JAX
    preallocates `GPU_SHARE_USABLE * f` of the GPU (XLA_PYTHON_CLIENT_MEM_FRACTION), torch is
    capped there (set_per_process_memory_fraction), TensorFlow allocates as it grows
    (TF_FORCE_GPU_ALLOW_GROWTH) instead of taking the whole GPU.
    """
    if worker.get("workdir") and Path(worker["workdir"]).is_dir():
        os.chdir(worker["workdir"])          # relative data and cache paths mean what they meant to the driver
    env = {}
    if worker.get("keras_backend"):
        env["KERAS_BACKEND"] = worker["keras_backend"]
    gpus = float(worker.get("gpus") or 0)
    fraction = None
    if gpus == 0:
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        if gpus < 1:
            fraction = round(GPU_SHARE_USABLE * gpus, 4)
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{fraction}"
    os.environ.update(env)
    if fraction is not None and _keras_backend() == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_per_process_memory_fraction(fraction)
            env["torch_memory_fraction"] = str(fraction)
    return env


def _keras_backend() -> str:
    """The backend Keras will import, without importing Keras ($KERAS_BACKEND, else keras.json)."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _source_task(trial: dict, job: SweepJob, worker: dict) -> dict:
    """Train (or find in this node's cache) a trial's source model; return its files as bytes."""
    prepare_worker(worker)
    try:
        from ..sweep import ensure_source, source_root_for

        folder = ensure_source(trial, job.cache_dir, source_root_for(trial, job.sources_root))
        return read_source(folder)
    except Exception:
        import traceback

        return {"files": {}, "error": traceback.format_exc(limit=8)}


def _trial_task(trial: dict, job: SweepJob, worker: dict, source_rel: str | None, source: dict | None,
                runner: TrialRunner | None, placement: dict) -> dict:
    """One trial in a fresh worker process: limits, the source model in place, then the trial's row."""
    placement = {**placement, "memory": prepare_worker(worker)}
    if source_rel is not None:
        try:
            install_source(source, job.sources_root / source_rel)
        except SourceError as exc:
            row = failed_row(trial, job.sweep, f"its source model failed:\n{exc}")
            row["timings"] = {"executor": placement}
            return row
    return run_guarded(runner, trial, job, placement)
