"""Sweep configuration: YAML → validated SweepConfig → list of trial configs.

Every check runs before any training, and each error names the file and the key
(e.g. `configs/x.yaml: grid[0].backbone[1]: unknown backbone 'VGG61'`).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .strategies import STRATEGIES

TOP_KEYS = {"name", "description", "data", "preprocessing", "augmentation", "training", "protocol",
            "strategies", "sources", "grid", "isolation", "cache_dir", "store"}
GRID_KEYS = {"backbone", "weights", "strategy", "input_size", "train_patients", "seed", "first_trainable"}
DEFAULTS = {
    "data": {"spec": "synthetic", "image_size": 128, "frames": "ed_es", "test_fraction": 0.5, "split_seed": 0},
    "preprocessing": {"crop_fraction": 0.4, "percentiles": [2.0, 98.0]},
    "augmentation": {"rotation": 45.0, "copies": 0},
    "training": {"epochs": 50, "batch_size": 32, "momentum": 0.9, "nesterov": True, "decay": 1e-6,
                 "select_on": "val_loss", "oversample": {"OAP": 6, "IN": 1, "OBS": 6}, "mixed_precision": False},
    "protocol": {"folds": 5},
    "strategies": {
        "feature_extractor": {"lrs": [1e-2, 1e-3, 1e-4]},
        "partial_finetune": {"lrs": [1e-3, 1e-4, 1e-5], "head_lrs": [1e-2, 1e-3, 1e-4], "depth": 1},
        "full_finetune": {"lrs": [1e-2, 1e-3, 1e-4]},
        "hybrid": {"svm": {"C": [1.0, 10.0], "kernel": ["rbf"]}, "rf": {"n_estimators": [200], "max_depth": [None]}},
    },
}
SOURCE_DEFAULTS = {"epochs": 10, "lr": 1e-2}


class ConfigError(ValueError):
    """A bad configuration value, reported before any training starts."""


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


@dataclass
class SweepConfig:
    """A validated sweep; `trials()` expands the grid blocks into trial configs."""

    path: Path
    raw: dict
    name: str
    settings: dict = field(default_factory=dict)   # data, preprocessing, ... merged with defaults

    @property
    def isolation(self) -> str:
        return self.raw.get("isolation", "session")

    @property
    def cache_dir(self) -> Path:
        return Path(self.raw.get("cache_dir", ".harness/cache"))

    def default_store(self) -> Path:
        return Path(self.raw.get("store", f"runs/{self.name}/results.sqlite"))

    def sources(self) -> dict:
        return {k: {**SOURCE_DEFAULTS, **v} for k, v in (self.raw.get("sources") or {}).items()}

    def trials(self) -> list[dict]:
        out, seen = [], set()
        for block in self.raw["grid"]:
            axes = {k: _as_list(block.get(k, d)) for k, d in
                    [("backbone", None), ("weights", "none"), ("strategy", None), ("input_size", None),
                     ("train_patients", None), ("seed", 0)]}
            for combo in itertools.product(*axes.values()):
                point = dict(zip(axes, combo))
                for strategy in _expand_strategy(point["strategy"]):
                    trial = self._trial({**point, "strategy": strategy}, block.get("first_trainable"))
                    if trial["trial_id"] not in seen:
                        seen.add(trial["trial_id"])
                        out.append(trial)
        return out

    def _trial(self, point: dict, first_trainable: str | None) -> dict:
        s = self.settings
        strategy = point["strategy"]
        opts = s["strategies"]["hybrid"][strategy.split("_")[1]] if strategy.startswith("hybrid") \
            else s["strategies"][strategy]
        trial = {
            "backbone": point["backbone"], "weights": str(point["weights"]), "strategy": strategy,
            "input_size": point["input_size"], "train_patients": point["train_patients"], "seed": int(point["seed"]),
            "first_trainable": first_trainable, "strategy_options": opts,
            "data": s["data"], "preprocessing": s["preprocessing"], "augmentation": s["augmentation"],
            "training": s["training"], "protocol": s["protocol"],
        }
        if str(point["weights"]).startswith("source:"):
            trial["source"] = self.sources().get(str(point["weights"]).split(":", 1)[1])
        trial["trial_id"] = trial_id(trial)
        return trial


def trial_id(trial: dict) -> str:
    """Hash of the full trial configuration: same config → same id → never run twice."""
    body = {k: v for k, v in trial.items() if k != "trial_id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _expand_strategy(name: str) -> list[str]:
    return ["hybrid_svm", "hybrid_rf"] if name == "hybrid" else [name]


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep YAML; raises ConfigError naming the key on any problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return validate(raw, path)


def validate(raw: dict, path: str | Path = "<config>") -> SweepConfig:
    """Check every key and value; returns the SweepConfig with defaults merged in."""
    def fail(key: str, msg: str):
        raise ConfigError(f"{path}: {key}: {msg}")

    if not isinstance(raw, dict):
        fail("(top)", "expected a mapping")
    for key in raw:
        if key not in TOP_KEYS:
            fail(key, f"unknown key; allowed: {', '.join(sorted(TOP_KEYS))}")
    settings = {k: _merge(DEFAULTS[k], raw.get(k) or {}) for k in DEFAULTS}
    _check_numbers(settings, fail)
    if raw.get("isolation", "session") not in ("session", "process"):
        fail("isolation", "must be 'session' (clear_session + gc) or 'process' (fresh spawned process)")
    sources = raw.get("sources") or {}
    if not isinstance(sources, dict):
        fail("sources", "expected a mapping of name -> {data, epochs, lr}")
    for name, src in sources.items():
        if not isinstance(src, dict) or "data" not in src:
            fail(f"sources.{name}", "needs at least data: <dataset spec>")
        for k in ("epochs", "batch_size", "seed"):
            if k in src and (not isinstance(src[k], int) or src[k] < (0 if k == "seed" else 1)):
                fail(f"sources.{name}.{k}", "must be a positive integer")
        unknown = set(src) - {"data", "epochs", "lr", "batch_size", "seed"}
        if unknown:
            fail(f"sources.{name}.{sorted(unknown)[0]}", "unknown key; allowed: data, epochs, lr, batch_size, seed")
        if "lr" in src:
            _positive_float(src["lr"], f"sources.{name}.lr", fail)
    grid = raw.get("grid")
    if not isinstance(grid, list) or not grid:
        fail("grid", "must be a non-empty list of blocks (each a mapping of axis -> values)")
    for b, block in enumerate(grid):
        _check_block(block, f"grid[{b}]", settings, sources, fail)
    cfg = SweepConfig(path=Path(path), raw=raw, name=str(raw.get("name") or Path(path).stem), settings=settings)
    if not cfg.trials():
        fail("grid", "expands to no trials")
    return cfg


def _positive_float(value, key: str, fail) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        fail(key, f"{value!r} is not a number")
    if not v > 0:
        fail(key, f"{value!r} must be > 0")
    return v


def _check_numbers(s: dict, fail) -> None:
    t = s["training"]
    for k in ("epochs", "batch_size"):
        if not isinstance(t[k], int) or isinstance(t[k], bool) or t[k] < 1:
            fail(f"training.{k}", f"{t[k]!r} must be a positive integer")
    if t["select_on"] not in ("val_loss", "val_accuracy"):
        fail("training.select_on", "must be val_loss or val_accuracy")
    if not 0 <= float(t["momentum"]) < 1:
        fail("training.momentum", "must be in [0, 1)")
    if t["oversample"]:
        for label, factor in t["oversample"].items():
            if label not in ("OAP", "IN", "OBS") or not isinstance(factor, int) or factor < 1:
                fail(f"training.oversample.{label}", "labels OAP/IN/OBS with integer factors >= 1")
    folds = s["protocol"]["folds"]
    if not isinstance(folds, int) or folds < 2:
        fail("protocol.folds", f"{folds!r} must be an integer >= 2")
    a = s["augmentation"]
    if not isinstance(a["copies"], int) or a["copies"] < 0:
        fail("augmentation.copies", "must be an integer >= 0 (0 = no augmentation)")
    d = s["data"]
    if not 0 < float(d["test_fraction"]) < 1:
        fail("data.test_fraction", "must be between 0 and 1")
    if not isinstance(d["image_size"], int) or d["image_size"] < 16:
        fail("data.image_size", "must be an integer >= 16")
    for name in ("feature_extractor", "partial_finetune", "full_finetune"):
        opts = s["strategies"][name]
        for key in ("lrs", "head_lrs"):
            if key in opts:
                values = _as_list(opts[key])
                if not values:
                    fail(f"strategies.{name}.{key}", "needs at least one learning rate")
                opts[key] = [_positive_float(v, f"strategies.{name}.{key}[{i}]", fail) for i, v in enumerate(values)]
    depth = s["strategies"]["partial_finetune"].get("depth", 1)
    if not isinstance(depth, int) or depth < 1:
        fail("strategies.partial_finetune.depth", "must be an integer >= 1")
    for kind in s["strategies"]["hybrid"]:
        if kind not in ("svm", "rf"):
            fail(f"strategies.hybrid.{kind}", "only svm and rf are supported")


def _check_block(block, where: str, settings: dict, sources: dict, fail) -> None:
    from .backbones import get_backbone
    from .weights import WeightsSpec

    if not isinstance(block, dict):
        fail(where, "expected a mapping of axis -> values")
    for key in block:
        if key not in GRID_KEYS:
            fail(f"{where}.{key}", f"unknown axis; allowed: {', '.join(sorted(GRID_KEYS))}")
    for key in ("backbone", "strategy"):
        if key not in block:
            fail(f"{where}.{key}", "missing")
    specs = []
    for i, name in enumerate(_as_list(block["backbone"])):
        try:
            specs.append(get_backbone(str(name)))
        except ValueError as exc:
            fail(f"{where}.backbone[{i}]", str(exc))
    for i, name in enumerate(_as_list(block["strategy"])):
        if name != "hybrid" and name not in STRATEGIES:
            fail(f"{where}.strategy[{i}]", f"unknown strategy {name!r}; use {', '.join(STRATEGIES)} or hybrid")
    for i, w in enumerate(_as_list(block.get("weights", "none"))):
        try:
            spec = WeightsSpec.parse(w)
        except ValueError as exc:
            fail(f"{where}.weights[{i}]", str(exc))
        if spec.kind == "source" and spec.value not in sources and not Path(spec.value).is_dir():
            fail(f"{where}.weights[{i}]", f"source {spec.value!r} is not defined under sources:")
        if spec.kind == "imagenet" and any(not s.supports_imagenet for s in specs):
            fail(f"{where}.weights[{i}]", "CBR baselines have no ImageNet weights; put them in a block without imagenet")
        if spec.kind == "file" and not Path(spec.value).exists():
            fail(f"{where}.weights[{i}]", f"weights file {spec.value} not found")
    for i, size in enumerate(_as_list(block.get("input_size", None))):
        if size is not None and (not isinstance(size, int) or size < 32):
            fail(f"{where}.input_size[{i}]", f"{size!r} must be null (backbone default) or an integer >= 32")
    for i, n in enumerate(_as_list(block.get("train_patients", None))):
        if n is not None and (not isinstance(n, int) or n < settings["protocol"]["folds"]):
            fail(f"{where}.train_patients[{i}]", f"{n!r} must be null (all) or an integer >= protocol.folds")
    for i, seed in enumerate(_as_list(block.get("seed", 0))):
        if not isinstance(seed, int) or isinstance(seed, bool):
            fail(f"{where}.seed[{i}]", f"{seed!r} must be an integer")
