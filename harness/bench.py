"""Naive vs cached: the same small sweep run both ways in one process, timed and compared.

Naive = the frozen part of the network runs on every batch of every epoch, fold and
learning rate (what a plain Keras loop does). Cached = its forward pass is computed once
into a fresh, empty FeatureCache (so the cached time includes building the cache) and
then read. Both paths see the same augmentation bank and the same seeds, so their test
metrics should agree up to floating-point noise; the bench reports the largest difference.

The base is a `source:` model the bench first pretrains itself (full fine-tuning from
random initialisation on a separate synthetic cohort, timed apart), so the frozen features
carry information: equal metrics of the two paths then mean something, and the
feature extractor's test AUC shows it (target >= 0.65).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .config import SweepConfig, validate

# A small sweep: MobileNetV1 α 0.25 at 160 px on synthetic data, three cached strategies,
# 3 folds x 3 learning rates x 20 epochs (the paper: 5 x 3 x 50, where caching gains more),
# from a MobileNet the bench pretrains on a separate synthetic cohort (bench15).
DEFAULT_BENCH = {
    "name": "bench",
    "data": {"spec": "synthetic:1.5T?patients=16&seed=7", "image_size": 160},
    "augmentation": {"rotation": 45.0, "zoom": 0.6, "copies": 2},
    "training": {"epochs": 20, "oversample": {"OAP": 3, "IN": 1, "OBS": 3}},
    "protocol": {"folds": 3},
    "strategies": {"feature_extractor": {"lrs": [1e-2, 1e-3, 1e-4]},
                   "partial_finetune": {"lrs": [1e-3, 1e-4, 1e-5], "head_lrs": [1e-2], "depth": 1},
                   "hybrid": {"svm": {"C": [1.0, 10.0], "kernel": ["rbf"]}}},
    "sources": {"bench15": {"data": "synthetic:1.5T?patients=24&seed=100", "epochs": 12, "lr": 5.0e-2, "batch_size": 16}},
    "grid": [{"backbone": ["MobileNetV1-0.25"], "input_size": [160], "weights": ["source:bench15"],
              "strategy": ["feature_extractor", "hybrid_svm", "partial_finetune"]}],
}
COMPARED = ("accuracy", "soft_accuracy", "auc_macro", "auc_weighted", "auc_OAP", "auc_IN", "auc_OBS",
            "f1_OAP", "f1_IN", "f1_OBS")
FROZEN = ("feature_extractor", "hybrid_svm", "hybrid_rf")
# per-phase seconds reported for each path (features_s: filling the cache, inside prepare_s)
PHASES = ("warm_start_s", "prepare_s", "features_s", "cv_s", "final_fit_s", "test_s", "train_s")
TARGETS = {"frozen_speedup": 10.0, "partial_speedup": 3.0, "max_metric_difference": 0.01,
           "feature_extractor_auc_weighted": 0.65}


class Bench:
    """Run every trial of `config` naive then cached; summarise speed ratios and metric gaps."""

    def __init__(self, config: SweepConfig | None = None, data_cache: str | Path = ".harness/cache"):
        self.config = config or validate(DEFAULT_BENCH, "<built-in bench>")
        self.data_cache = Path(data_cache)

    def run(self, progress: bool = True) -> dict:
        import keras
        from tqdm.auto import tqdm

        from .sweep import keras_device, library_versions, machine_info, run_trial

        trials = [spec.to_dict() for spec in self.config.trials()]
        rows = []
        with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
            bar = tqdm(total=2 * len(trials), desc="bench", unit="run", disable=not progress)
            source_s = 0.0
            for trial in trials:
                timing, metrics, scores, phases = {}, {}, {}, {}
                for mode in ("naive", "cached"):
                    cache = Path(tmp) / mode
                    (cache / "data").mkdir(parents=True, exist_ok=True)
                    self._share_data(cache)
                    t0 = time.perf_counter()
                    row = run_trial(trial, cache, sources_root=self.data_cache / "sources", cached=(mode == "cached"))
                    spent = row["timings"]["setup_s"] + row["timings"]["source_s"]
                    timing[mode] = time.perf_counter() - t0 - spent
                    source_s += row["timings"]["source_s"]
                    metrics[mode] = {k: row["metrics"]["test"][k] for k in COMPARED}
                    scores[mode] = row["test_scores"]
                    score_kind = row["metrics"]["test"]["score_kind"]
                    phases[mode] = {k: round(float(row["timings"][k]), 3) for k in PHASES if k in row["timings"]}
                    keras.backend.clear_session()
                    bar.update()
                rows.append({"backbone": trial["backbone"], "strategy": trial["strategy"], "weights": trial["weights"],
                             "naive_s": round(timing["naive"], 3), "cached_s": round(timing["cached"], 3),
                             "speedup": round(timing["naive"] / timing["cached"], 2),
                             "max_metric_difference": _max_difference(metrics["naive"], metrics["cached"]),
                             "max_score_difference": float(np.max(np.abs(scores["naive"] - scores["cached"]))),
                             "score_kind": score_kind, "test_metrics": metrics, "phases": phases})
            bar.close()
        backend, device = keras_device()
        fe_auc = [r["test_metrics"]["cached"]["auc_weighted"] for r in rows if r["strategy"] == "feature_extractor"]
        result = {
            "rows": rows,
            "frozen_speedup": _ratio(rows, lambda s: s in FROZEN),
            "partial_speedup": _ratio(rows, lambda s: s == "partial_finetune"),
            "max_metric_difference": max((r["max_metric_difference"] for r in rows), default=None),
            "max_score_difference": max((r["max_score_difference"] for r in rows), default=None),
            "feature_extractor_auc_weighted": min(fe_auc) if fe_auc else None,
            "source_s": round(source_s, 2),
            "targets": dict(TARGETS),
            "note": ("times exclude data loading, model building and pretraining the source model (source_s, 0 when "
                     "an earlier run left it in the cache); "
                     "cached times include filling an empty cache; both paths prepare rotated copies for training "
                     "rows only; on a shared CPU the ratios vary from run to run (see each row's phases)"),
            "config": self.config.raw if self.config.path.name != "<built-in bench>" else DEFAULT_BENCH,
            "backend": backend, "device": device, "versions": library_versions(), "machine": machine_info(),
            "load_average": _load_average(),
        }
        result["targets_met"] = _targets_met(result)
        result["engine"] = engine_bench()
        result["head_steps_per_s"] = result["engine"]["head_steps_per_s"]
        return result

    def _share_data(self, cache: Path) -> None:
        """Reuse the user's cached datasets so the bench times training, not data synthesis.

        (Source models are kept under the user's cache too, `<data_cache>/sources`, keyed by
        their full definition: a second bench run reuses the pretrained source.)
        """
        shared = self.data_cache / "data"
        target = cache / "data"
        if shared.exists() and not any(target.iterdir()):
            target.rmdir()
            target.symlink_to(shared.resolve(), target_is_directory=True)


# ---------------------------------------------------------------------------- engine micro-benchmarks

ENGINE_BENCH = {"feature_dim": 256, "batch_size": 32, "items": 2048, "epochs": 5, "repeats": 5}


def _features(items: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random 'cached features' and labels (speed only: nothing is learned from them)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(items, dim)).astype("float32"), rng.integers(0, 3, size=items).astype("int64")


def _bench_model(kind: str, dim: int, seed: int = 0):
    """'head': the Ho & Kim dense head on `dim` features; 'tiny': one Dense(3) (near-zero compute)."""
    import keras

    from .strategies import TrainSettings
    from .strategies.network import KerasStrategy

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(dim,), name="features")
    if kind == "head":
        out = KerasStrategy(None, TrainSettings(), {"lrs": [1e-2]}).head(inp, seed)
    else:
        out = keras.layers.Dense(3, activation="softmax", dtype="float32", name="tiny")(inp)
    return keras.Model(inp, out)


def engine_steps(kind: str, dim: int, *, items: int, batch_size: int, epochs: int, steps_per_execution: int = 1) -> dict:
    """Training steps through the engine (`CompiledModel` + `fit_epochs`), after one untimed epoch."""
    from .engine import AugmentationSpec, CompiledModel, OptimizerSettings, fit_epochs

    x, y = _features(items, dim)
    compiled = CompiledModel(_bench_model(kind, dim), OptimizerSettings(0.9, True, 1e-6), lr=1e-2,
                             steps_per_execution=steps_per_execution)
    source = lambda idx, draws: [x[idx]]  # noqa: E731  (cached features: a gather)
    run = dict(batch_size=batch_size, seed=0, augmentation=AugmentationSpec(rotation=0.0), mode="bank")
    fit_epochs(compiled, source, np.arange(items), y, epochs=1, **run)          # traces the step
    compiled.restore(1e-2)
    result = fit_epochs(compiled, source, np.arange(items), y, epochs=epochs, **run)
    return {"steps": result.steps, "seconds": result.seconds, "steps_per_s": result.steps / result.seconds,
            "s_per_step": result.seconds / result.steps}


def naive_steps(kind: str, dim: int, *, items: int, batch_size: int, epochs: int) -> dict:
    """The naive baseline: a plain Python loop of `model.train_on_batch`, same model, data and optimizer."""
    from .engine import CompiledModel, OptimizerSettings

    x, y = _features(items, dim)
    model = CompiledModel(_bench_model(kind, dim), OptimizerSettings(0.9, True, 1e-6), lr=1e-2).model
    model.train_on_batch(x[:batch_size], y[:batch_size])                         # traces the step
    steps, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        for b in range(0, items, batch_size):
            model.train_on_batch(x[b:b + batch_size], y[b:b + batch_size])
            steps += 1
    seconds = time.perf_counter() - t0
    return {"steps": steps, "seconds": seconds, "steps_per_s": steps / seconds, "s_per_step": seconds / steps}


def engine_bench(feature_dim: int = ENGINE_BENCH["feature_dim"], batch_size: int = ENGINE_BENCH["batch_size"],
                 items: int = ENGINE_BENCH["items"], epochs: int = ENGINE_BENCH["epochs"],
                 repeats: int = ENGINE_BENCH["repeats"]) -> dict:
    """Dense-head steps/s on cached features, and the engine's per-step overhead against the naive loop.

    The overhead model is one Dense(3) on a single feature: its step does almost no work, so
    its seconds per step are what the engine (dispatch, gathering, bookkeeping) costs per step.
    `naive_over_engine` > 1: the engine runs steps faster than a plain `train_on_batch` loop.
    Each figure is the best of `repeats` runs, engine and naive interleaved, each going first in
    turn (a shared machine's load varies from second to second). The engine runs as trials run
    it: steps per dispatch from HARNESS_STEPS_PER_EXECUTION ('auto': 1 on CPU, 64 on a GPU).
    """
    import functools

    import keras

    from .engine.step import resolve_steps_per_execution
    from .sweep import keras_device
    from .trial import STEPS_ENV

    backend, device = keras_device()
    per_dispatch = resolve_steps_per_execution(os.environ.get(STEPS_ENV, "auto"), device)
    through_engine = functools.partial(engine_steps, steps_per_execution=per_dispatch)
    load_before = _load_average()
    size = {"items": items, "batch_size": batch_size, "epochs": epochs}
    best = lambda runs: min(runs, key=lambda r: r["seconds"])  # noqa: E731
    head = best([through_engine("head", feature_dim, **size) for _ in range(repeats)])
    engine_runs, naive_runs = [], []
    for i in range(repeats):            # alternating which goes first
        pair = [(engine_runs, through_engine), (naive_runs, naive_steps)]
        for runs, measure in (pair if i % 2 == 0 else pair[::-1]):
            runs.append(measure("tiny", 1, **size))
    engine, naive = best(engine_runs), best(naive_runs)
    return {
        "head_steps_per_s": round(head["steps_per_s"], 1),
        "head": {"feature_dim": feature_dim, **size, "repeats": repeats,
                 **{k: round(v, 6) for k, v in head.items()}},
        "engine_overhead": {"engine_s_per_step": round(engine["s_per_step"], 6),
                            "naive_s_per_step": round(naive["s_per_step"], 6),
                            "naive_over_engine": round(naive["s_per_step"] / engine["s_per_step"], 3),
                            "steps": engine["steps"], "batch_size": batch_size, "repeats": repeats,
                            "steps_per_execution": per_dispatch,
                            "model": "Dense(3) on 1 feature (near-zero compute)"},
        "backend": backend, "device": device, "keras": keras.__version__,
        "load_average": {"before": load_before, "after": _load_average()},
    }


def _max_difference(a: dict, b: dict) -> float:
    """Largest |a - b| over the compared metrics (a metric None on both paths counts as equal)."""
    gaps = [0.0 if a[k] is None and b[k] is None else abs((a[k] or 0.0) - (b[k] or 0.0)) for k in COMPARED]
    return max(gaps)


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _targets_met(result: dict) -> dict:
    """Each target: met (True/False), or None when the bench had no row for it."""
    out = {}
    for key, bound in TARGETS.items():
        value = result.get(key)
        out[key] = None if value is None else (value <= bound if key == "max_metric_difference" else value >= bound)
    return out


def _ratio(rows: list[dict], pick) -> float | None:
    chosen = [r for r in rows if pick(r["strategy"])]
    if not chosen:
        return None
    return round(sum(r["naive_s"] for r in chosen) / sum(r["cached_s"] for r in chosen), 2)
