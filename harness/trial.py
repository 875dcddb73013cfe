"""One trial end to end: a pure function of (trial config, seed, data).

`run_trial(trial)` seeds everything (Python, NumPy, the backend, Keras's global seed
generator; TensorFlow's op determinism on the TensorFlow backend), sets the precision
policy, trains the `source:` model if the weights need one, builds the base, runs the
protocol and returns the result row. Every (fold, learning rate) run inside restores the
full initial state (see `harness.engine.step`), so nothing that ran before — another trial
in the same process, or another candidate — changes the numbers.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from .backbones import get_backbone


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, the backend and Keras; op determinism on the TensorFlow backend."""
    import keras

    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # tf-only branch

        tf.config.experimental.enable_op_determinism()


def resolve_precision(setting: str, device: str) -> str:
    """The dtype policy for `training.precision`: 'auto' is mixed_float16 on a GPU, float32 elsewhere."""
    if setting != "auto":
        return setting
    return "mixed_float16" if on_accelerator(device) else "float32"


#: environment variable: training steps per dispatch ('auto': 1 on CPU, 64 on an accelerator)
STEPS_ENV = "HARNESS_STEPS_PER_EXECUTION"


def on_accelerator(device: str) -> bool:
    """Whether `device` (as `keras_device` names it) is a GPU: the engine's `auto` settings differ there."""
    return device.startswith(("gpu", "cuda"))


def _switch(env: str, on: str, off: str, device: str) -> bool:
    """An engine switch from `env`: `on`, `off` or 'auto' (on an accelerator only)."""
    setting = os.environ.get(env, "auto")
    if setting not in ("auto", on, off):
        raise ValueError(f"{env} must be auto, {on} or {off}. Got {setting!r} instead.")
    return on_accelerator(device) if setting == "auto" else setting == on


#: environment variable: where full fine-tuning rotates its images ('auto': in the model on an accelerator, else host)
AUGMENT_ENV = "HARNESS_AUGMENT_ON"
#: environment variable: train a fold's learning rates together ('auto': on an accelerator only)
GROUP_ENV = "HARNESS_GROUP_RUNS"


def configure_engine(ctx, device: str) -> None:
    """How this trial's steps run on `device` (engine settings; the numbers do not depend on them)."""
    from .engine.step import resolve_steps_per_execution

    ctx.steps_per_execution = resolve_steps_per_execution(os.environ.get(STEPS_ENV, "auto"), device)
    ctx.augment_on_device = _switch(AUGMENT_ENV, "device", "host", device)   # else the host's ImageBank
    ctx.group_runs = _switch(GROUP_ENV, "yes", "no", device)                  # harness.engine.group


def train_settings(trial: dict, backbone: str):
    from .strategies import TrainSettings

    return TrainSettings.from_config(trial["training"], backbone=backbone)


def augmentation_spec(trial: dict):
    from .engine import AugmentationSpec

    return AugmentationSpec.from_config(trial["augmentation"])


def source_root_for(trial: dict, sources_root: str | Path) -> Path:
    """Folder of this trial's source runs, keyed by everything that shapes the source model.

    Not the trial's seed: a source model is trained with its own seed (`sources.<name>.seed`,
    default 0), so the trials of every seed start from the same pretrained model, as every
    seed of an ImageNet sweep starts from the same ImageNet weights.
    """
    parts = {k: trial.get(k) for k in ("source", "preprocessing", "augmentation", "training")}
    parts["image_size"] = trial["data"]["image_size"]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return Path(sources_root) / digest


def ensure_source(trial: dict, cache_dir: Path, sources_root: Path, progress: bool = False) -> Path:
    """Train (once, under a file lock) the source model behind weights `source:<name>`.

    Full fine-tuning from random initialisation on the source cohort (every image, fresh
    rotations every epoch); the base's weights go to `base.weights.h5` (their SHA-256 is the
    weights identity of every trial that starts from them), its provenance to `source.json`.
    """
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
        import keras

        from .data import load_dataset
        from .engine import ImageBank, TrialContext
        from .engine.throughput import phase_entry
        from .features import FeatureCache
        from .engine import threads
        from .strategies import FullFinetune, TrainSettings
        from .sweep import library_versions

        from .sweep import keras_device

        src = trial["source"]
        seed = int(src.get("seed", 0))
        t0 = time.perf_counter()
        device = keras_device()[1]
        threads.configure("auto")
        keras.mixed_precision.set_global_policy(resolve_precision(train_settings(trial, None).precision, device))
        d = trial["data"]
        dataset = load_dataset(src["data"], cache_dir=cache_dir / "data", image_size=d["image_size"], frames=d["frames"])
        seed_everything(seed)
        base = backbone.build(size, weights=None)
        bank = ImageBank(dataset, backbone, size, trial["preprocessing"], augmentation_spec(trial), seed=seed)
        ctx = TrialContext(dataset, backbone, base, bank, FeatureCache(cache_dir / "features", enabled=False),
                           "none", seed=seed, cached=False, random_init=False)
        configure_engine(ctx, device)
        batch = int(src.get("batch_size", trial["training"]["batch_size"]))
        settings = TrainSettings.from_config(trial["training"], epochs=int(src["epochs"]), batch_size=batch,
                                             batch_size_per_backbone={})
        learner = FullFinetune(ctx, settings, {"lrs": [float(src["lr"])]})
        everyone = np.arange(len(ctx.y))
        learner.fit(everyone, {"lr": float(src["lr"])}, int(src["epochs"]))
        train_acc = float(np.mean(learner.predict_scores(everyone).argmax(1) == ctx.y))
        tmp = folder / "base.tmp.weights.h5"
        base.save_weights(str(tmp))
        os.replace(tmp, folder / SOURCE_FILE)
        meta = {"name": spec.value, "data": src["data"], "dataset": dataset.name, "fingerprint": dataset.fingerprint(),
                "backbone": backbone.name, "input_size": size, "epochs": int(src["epochs"]), "lr": float(src["lr"]),
                "batch_size": batch, "weights_from": "none (random initialisation)", "seed": seed,
                "precision": keras.config.dtype_policy().name, "train_accuracy": train_acc,
                "throughput": {"fine_tuning": phase_entry(learner.images_trained, learner.train_seconds)},
                "seconds": time.perf_counter() - t0, "versions": library_versions()}
        (folder / SOURCE_META).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return folder


def phase_counts(learner, ctx, test_images: int, test_seconds: float) -> dict[str, tuple[int, float]]:
    """(images, seconds) per throughput phase of a finished trial (see `harness.engine.throughput`).

    cache_fill: the frozen part's forward passes that filled the activation cache (misses);
    head_training: a head or classifier on a frozen base (the strategy's own training, or the
    warm-start head a partial fine-tune trains first); fine_tuning: training through the
    network (partial or full fine-tune); test: predicting the test rows.
    """
    from .engine.throughput import HEAD_STRATEGIES

    counts: dict[str, list] = {}

    def add(phase: str, images: int, seconds: float) -> None:
        entry = counts.setdefault(phase, [0, 0.0])
        entry[0] += int(images)
        entry[1] += float(seconds)

    add("cache_fill", ctx.fill_images, ctx.fill_seconds)
    warm = learner.warm_start()
    if warm is not None:
        add("head_training", warm.images_trained, warm.train_seconds)
    add("head_training" if learner.name in HEAD_STRATEGIES else "fine_tuning", learner.images_trained,
        learner.train_seconds)
    add("test", test_images, test_seconds)
    return {phase: (images, seconds) for phase, (images, seconds) in counts.items()}


def run_trial(trial: dict, cache_dir: str | Path = ".harness/cache", sources_root: str | Path | None = None,
              cached: bool = True, progress: bool = False) -> dict:
    """Run one trial (a `TrialSpec` or its `to_dict()`) end to end; returns its result row (not yet stored)."""
    import keras

    from .engine import ImageBank, TrialContext, threads
    from .engine.throughput import throughput
    from .features import FeatureCache
    from .protocol import make_folds, patient_indices, run_protocol
    from .strategies import make_learner
    from .sweep import (_reset_peak_rss, keras_device, library_versions, load_trial_data, machine_info, peak_rss_mb,
                        split_patients)
    from .weights import WeightsSpec, build_base, weights_identity, weights_label

    trial = trial.to_dict() if hasattr(trial, "to_dict") else trial
    cache_dir = Path(cache_dir)
    sources_root = Path(sources_root) if sources_root else cache_dir / "sources"
    if trial.get("source") is not None:
        sources_root = source_root_for(trial, sources_root)
    reset_ok = _reset_peak_rss()
    started = time.time()
    t_all = time.perf_counter()
    timings: dict = {}
    backend, device = keras_device()
    engine = threads.configure("auto")
    keras.mixed_precision.set_global_policy(resolve_precision(train_settings(trial, None).precision, device))
    t0 = time.perf_counter()
    if trial["weights"].startswith("source:"):
        ensure_source(trial, cache_dir, sources_root, progress)
    timings["source_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dataset = load_trial_data(trial, cache_dir)
    train_p, test_p = split_patients(dataset, trial)
    kwargs = {"first_trainable": trial["first_trainable"]} if trial.get("first_trainable") else {}
    backbone = get_backbone(trial["backbone"], **kwargs)
    settings = train_settings(trial, backbone.name)
    size = trial["input_size"] or backbone.input_size
    wspec = WeightsSpec.parse(trial["weights"])
    seed_everything(trial["seed"])                     # random initialisation is part of the trial
    base = build_base(backbone, wspec, size, sources_root)
    bank = ImageBank(dataset, backbone, size, trial["preprocessing"], augmentation_spec(trial), seed=trial["seed"])
    ctx = TrialContext(dataset, backbone, base, bank, FeatureCache(cache_dir / "features", enabled=cached),
                       weights_identity(wspec, backbone, size, sources_root, seed=trial["seed"]),
                       seed=trial["seed"], cached=cached)
    configure_engine(ctx, device)
    table = ctx.table
    train_idx, test_idx = patient_indices(table, train_p), patient_indices(table, test_p)
    folds = make_folds(table, train_p, trial["protocol"]["folds"], trial["seed"])
    learner = make_learner(trial["strategy"], ctx, settings, trial["strategy_options"])
    timings["setup_s"] = time.perf_counter() - t0
    result = run_protocol(learner, table, train_idx, test_idx, folds, progress=progress)
    timings.update(result["timings"])
    timings["features_s"] = ctx.feature_seconds
    timings["feature_cache"] = {"hits": ctx.cache.hits, "misses": ctx.cache.misses}
    timings["train_s"] = learner.train_seconds
    timings["train_images"] = learner.images_trained
    timings["train_images_per_s"] = learner.images_trained / max(learner.train_seconds, 1e-9)
    timings["engine"] = {**engine, "runs_per_step": getattr(learner, "runs_per_step", 1),
                         "steps_per_execution": ctx.steps_per_execution,
                         "augmentation_on": "device" if ctx.augment_on_device else "host",
                         "group_runs": ctx.group_runs}
    timings["throughput"] = throughput(phase_counts(learner, ctx, len(test_idx), timings["test_s"]), device=device,
                                       backbone=backbone.name, strategy=trial["strategy"],
                                       precision=keras.config.dtype_policy().name, input_size=size,
                                       options=backbone.kwargs)
    timings["total_s"] = time.perf_counter() - t_all
    timings["peak_rss_mb"] = peak_rss_mb()
    timings["peak_rss_scope"] = "trial" if reset_ok else "process"
    augmentation = {"mode": getattr(learner, "augmentation_mode", "bank"), "bank_size": bank.copies,
                    "rotation": bank.augmentation.rotation, "zoom": bank.augmentation.zoom}
    metrics = {"test": result["metrics"], "selection": result["selection"], "params": learner.params(),
               "n_train_patients": len(train_p), "n_test_patients": len(test_p), "n_train_images": int(len(train_idx)),
               "n_folds": len(folds), "fold_patients": [int(len(np.unique(table["patient"].iloc[va]))) for _, va in folds],
               "dataset": dataset.name, "data_fingerprint": dataset.fingerprint(), "input_size": size,
               "batch_size": settings.batch_size, "precision": keras.config.dtype_policy().name,
               "augmentation": augmentation, "weights_id": ctx.weights_id,
               "trained_part_inputs": ("standardised per channel (random-init base; mean/std over "
                                       f"{ctx.standardised_on} training images)") if ctx.standardised_on else "raw"}
    return {"trial_id": trial["trial_id"], "status": "done", "backbone": backbone.name, "strategy": trial["strategy"],
            "weights": str(wspec), "weights_label": weights_label(wspec, sources_root, backbone, size),
            "seed": trial["seed"], "train_patients": len(train_p), "config": trial, "metrics": metrics,
            "timings": timings, "versions": library_versions(), "backend": backend, "device": device,
            "machine": machine_info(), "started_at": started, "finished_at": time.time(),
            "test_scores": result["scores"]}   # not stored; used by `harness bench`
