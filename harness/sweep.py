"""Run a sweep: expand the grid, skip finished trials, hand the rest to an executor, store each row.

`Sweep` is the driver: it plans, and it alone writes the results store; where trials run is
the executor's business (`harness.executors`: in this process for `isolation: session`, a
fresh process per trial for `isolation: process`, Ray tasks for `--executor ray`).

Crash safety: a trial's row is written in one SQLite transaction as soon as it is back; kill -9
at any moment loses only the trials in flight, and `--resume` skips every trial whose id
(hash of its config) is already done.

`run_trial` (one trial end to end) and `ensure_source` (a `source:` model, trained once) are
what executors run.
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
    """(backend, device description), asking only the active backend."""
    import keras

    backend = keras.backend.backend()
    device = "cpu"
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # tf-only branch

            gpus = tf.config.list_physical_devices("GPU")
            device = f"gpu x{len(gpus)}" if gpus else "cpu"
        elif backend == "jax":
            import jax

            d = jax.devices()[0]
            device = f"{d.platform}:{getattr(d, 'device_kind', '')}"
        elif backend == "torch":
            import torch

            device = f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    except Exception as exc:  # never fail a trial on device introspection
        device = f"unknown ({exc.__class__.__name__})"
    return backend, device


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

def _settings(trial: dict):
    from .strategies import TrainSettings

    t = trial["training"]
    return TrainSettings(epochs=t["epochs"], batch_size=t["batch_size"], momentum=t["momentum"],
                         nesterov=t["nesterov"], decay=t["decay"], select_on=t["select_on"],
                         oversample=t["oversample"], mixed_precision=mixed_policy(t) is not None)


def mixed_policy(training: dict) -> str | None:
    """The Keras mixed-precision policy a trial asks for, or None for float32.

    `auto` means float32 here until the engine chooses mixed precision on a GPU itself."""
    precision = training.get("precision", "auto")
    return precision if precision.startswith("mixed") else None


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


def source_root_for(trial: dict, sources_root: str | Path) -> Path:
    """Folder of this trial's source runs, keyed by everything that shapes the source model."""
    import hashlib

    parts = {k: trial.get(k) for k in ("source", "preprocessing", "augmentation", "training", "seed")}
    parts["image_size"] = trial["data"]["image_size"]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return Path(sources_root) / digest


def ensure_source(trial: dict, cache_dir: Path, sources_root: Path, progress: bool = False) -> Path:
    """Train (once, under a file lock) the source model behind weights `source:<name>`."""
    from filelock import FileLock

    from .weights import SOURCE_FILE, SOURCE_META, WeightsSpec, source_dir

    spec = WeightsSpec.parse(trial["weights"])
    backbone = get_backbone(trial["backbone"])
    size = trial["input_size"] or backbone.input_size
    folder = source_dir(spec, backbone, size, sources_root)
    if (folder / SOURCE_FILE).exists() or trial.get("source") is None:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / "train.lock")):
        if (folder / SOURCE_FILE).exists():
            return folder
        src = trial["source"]
        t0 = time.perf_counter()
        source_trial = {**trial, "data": {**trial["data"], "spec": src["data"]}, "train_patients": None,
                        "training": {**trial["training"], "epochs": int(src["epochs"]),
                                     "batch_size": int(src.get("batch_size", trial["training"]["batch_size"]))}}
        from .data import load_dataset
        from .strategies import FullFinetune, ImageBank, TrialContext
        from .features import FeatureCache

        d = source_trial["data"]
        dataset = load_dataset(d["spec"], cache_dir=cache_dir / "data", image_size=d["image_size"], frames=d["frames"])
        import keras

        keras.utils.set_random_seed(int(src.get("seed", 0)))
        base = backbone.build(size, weights=None)
        bank = ImageBank(dataset, backbone, size, trial["preprocessing"], trial["augmentation"]["rotation"],
                         trial["augmentation"]["copies"], seed=trial["seed"])
        ctx = TrialContext(dataset, backbone, base, bank, FeatureCache(cache_dir / "features", enabled=False),
                           "none", seed=int(src.get("seed", 0)), cached=False)
        learner = FullFinetune(ctx, _settings(source_trial), [float(src["lr"])])
        everyone = np.arange(len(ctx.y))
        learner.prepare([], everyone)
        learner.fit(everyone, {"lr": float(src["lr"])}, int(src["epochs"]))
        train_acc = float(np.mean(learner.predict_proba(everyone).argmax(1) == ctx.y))
        tmp = folder / "base.tmp.weights.h5"
        base.save_weights(str(tmp))
        os.replace(tmp, folder / SOURCE_FILE)
        meta = {"name": spec.value, "data": src["data"], "dataset": dataset.name, "fingerprint": dataset.fingerprint(),
                "backbone": backbone.name, "input_size": size, "epochs": int(src["epochs"]), "lr": float(src["lr"]),
                "batch_size": source_trial["training"]["batch_size"], "weights_from": "none (random initialisation)",
                "seed": int(src.get("seed", 0)), "train_accuracy": train_acc, "seconds": time.perf_counter() - t0,
                "versions": library_versions()}
        (folder / SOURCE_META).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return folder


def run_trial(trial: dict, cache_dir: str | Path = ".harness/cache", sources_root: str | Path | None = None,
              cached: bool = True, progress: bool = False) -> dict:
    """Run one trial end to end and return its result row (not yet stored)."""
    import keras

    from .features import FeatureCache
    from .protocol import make_folds, patient_indices, run_protocol
    from .strategies import ImageBank, TrialContext, make_learner
    from .weights import WeightsSpec, build_base, weights_identity, weights_label

    cache_dir = Path(cache_dir)
    sources_root = Path(sources_root) if sources_root else cache_dir / "sources"
    if trial.get("source") is not None:
        sources_root = source_root_for(trial, sources_root)
    reset_ok = _reset_peak_rss()
    started = time.time()
    t_all = time.perf_counter()
    timings: dict = {}
    if mixed_policy(trial["training"]):
        keras.mixed_precision.set_global_policy(mixed_policy(trial["training"]))
    t0 = time.perf_counter()
    if trial["weights"].startswith("source:"):
        ensure_source(trial, cache_dir, sources_root, progress)
    timings["source_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dataset = load_trial_data(trial, cache_dir)
    train_p, test_p = split_patients(dataset, trial)
    kwargs = {"first_trainable": trial["first_trainable"]} if trial.get("first_trainable") else {}
    backbone = get_backbone(trial["backbone"], **kwargs)
    size = trial["input_size"] or backbone.input_size
    wspec = WeightsSpec.parse(trial["weights"])
    keras.utils.set_random_seed(trial["seed"])          # random initialisation is part of the trial
    base = build_base(backbone, wspec, size, sources_root)
    bank = ImageBank(dataset, backbone, size, trial["preprocessing"], trial["augmentation"]["rotation"],
                     trial["augmentation"]["copies"], seed=trial["seed"])
    ctx = TrialContext(dataset, backbone, base, bank, FeatureCache(cache_dir / "features", enabled=cached),
                       weights_identity(wspec, backbone, size, sources_root, seed=trial["seed"]),
                       seed=trial["seed"], cached=cached)
    table = ctx.table
    train_idx, test_idx = patient_indices(table, train_p), patient_indices(table, test_p)
    folds = make_folds(table, train_p, trial["protocol"]["folds"], trial["seed"])
    learner = make_learner(trial["strategy"], ctx, _settings(trial), trial["strategy_options"])
    timings["setup_s"] = time.perf_counter() - t0
    result = run_protocol(learner, table, train_idx, test_idx, folds, progress=progress)
    timings.update(result["timings"])
    timings["features_s"] = ctx.feature_seconds
    timings["feature_cache"] = {"hits": ctx.cache.hits, "misses": ctx.cache.misses}
    timings["train_s"] = learner.train_seconds
    timings["train_images"] = learner.images_trained
    timings["train_images_per_s"] = learner.images_trained / max(learner.train_seconds, 1e-9)
    timings["total_s"] = time.perf_counter() - t_all
    timings["peak_rss_mb"] = peak_rss_mb()
    timings["peak_rss_scope"] = "trial" if reset_ok else "process"
    backend, device = keras_device()
    metrics = {"test": result["metrics"], "selection": result["selection"], "params": learner.params(),
               "n_train_patients": len(train_p), "n_test_patients": len(test_p), "n_train_images": int(len(train_idx)),
               "dataset": dataset.name, "data_fingerprint": dataset.fingerprint(), "input_size": size,
               "precision": keras.mixed_precision.global_policy().name}
    return {"trial_id": trial["trial_id"], "status": "done", "backbone": backbone.name, "strategy": trial["strategy"],
            "weights": str(wspec), "weights_label": weights_label(wspec, sources_root, backbone, size),
            "seed": trial["seed"], "train_patients": len(train_p), "config": trial, "metrics": metrics,
            "timings": timings, "versions": library_versions(), "backend": backend, "device": device,
            "machine": machine_info(), "started_at": started, "finished_at": time.time(),
            "test_proba": result["proba"]}   # not stored; used by `harness bench`


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
