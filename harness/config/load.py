"""Sweep YAML -> validated `SweepConfig` -> list of `TrialSpec`.

Every key and value is checked before anything trains: the file must be UTF-8 YAML
holding a mapping, every section and grid block is checked against `schema.py`, then the
checks that span sections (`source:` weights need a `sources:` entry, ImageNet weights
need a backbone that has them, `train_patients` needs at least `protocol.folds`
patients). Any failure raises one `ConfigError` listing every problem found, each as
`FILE: KEY: what is wrong. Allowed: ... Got ... instead.`
"""
from __future__ import annotations

import itertools
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import schema
from .errors import ConfigError, Issue, key_path, suggest, unknown_key
from .trial import TrialSpec

MAX_CONFIG_BYTES = 1 << 20          # a sweep config is a few KB; anything this big is the wrong file
MAX_ISSUES = 20
MAX_TRIALS = 100_000                # a grid beyond this is a typo (or a hostile file), not a sweep
HYBRID_KINDS = ("svm", "rf")
_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict, _repr.maxlevel = 60, 60, 4, 4, 2


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: the schema model, where it came from, and its trials."""

    path: Path
    model: schema.Sweep
    raw: dict = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.model.name or self.path.stem

    @property
    def isolation(self) -> str:
        return self.model.isolation

    @property
    def cache_dir(self) -> Path:
        return Path(self.model.cache_dir)

    def default_store(self) -> Path:
        return Path(self.model.store or f"runs/{self.name}/results.sqlite")

    def sources(self) -> dict[str, dict]:
        return {name: src.model_dump(mode="json", exclude_none=True) for name, src in self.model.sources.items()}

    def trials(self) -> list[TrialSpec]:
        """Every grid point (hybrid = hybrid_svm + hybrid_rf), in file order, without duplicates."""
        out, seen = [], set()
        for block in self.model.grid:
            for backbone, weights, strategy, size, n, seed in itertools.product(
                    block.backbone, block.weights, block.strategy, block.input_size, block.train_patients, block.seed):
                for name in (["hybrid_svm", "hybrid_rf"] if strategy == "hybrid" else [strategy]):
                    spec = self._trial(backbone, weights, name, size, n, seed, block.first_trainable)
                    if spec.trial_id not in seen:
                        seen.add(spec.trial_id)
                        out.append(spec)
        return out

    def _trial(self, backbone: str, weights: str, strategy: str, input_size, train_patients, seed: int,
               first_trainable) -> TrialSpec:
        m = self.model
        training = m.training.model_dump(mode="json", exclude={"batch_size_per_backbone", "mixed_precision"})
        training["batch_size"] = m.training.batch_size_per_backbone.get(backbone, m.training.batch_size)
        source = None
        if weights.startswith("source:"):
            source = self.sources().get(weights.split(":", 1)[1])
        return TrialSpec(backbone=backbone, weights=weights, strategy=strategy, input_size=input_size,
                         train_patients=train_patients, seed=seed, first_trainable=first_trainable,
                         strategy_options=strategy_options(m.strategies, strategy),
                         data=m.data.model_dump(mode="json"), preprocessing=m.preprocessing.model_dump(mode="json"),
                         augmentation=m.augmentation.model_dump(mode="json"), training=training,
                         protocol=m.protocol.model_dump(mode="json"), source=source)


def strategy_options(strategies: schema.Strategies, strategy: str) -> dict:
    """The `strategies.<name>` section a trial of `strategy` runs with.

    Hybrid trials get only their own classifier's grid, keyed by kind (`{"svm": {...}}`), so
    editing the forest grid does not change the SVM trials' ids.
    """
    if strategy.startswith("hybrid_"):
        kind = strategy.split("_", 1)[1]
        return {kind: getattr(strategies.hybrid, kind).model_dump(mode="json")}
    return getattr(strategies, strategy).model_dump(mode="json")


# ---------------------------------------------------------------------------- reading

def read_config(path: str | Path) -> dict:
    """The YAML mapping in `path`, or a ConfigError saying why the file cannot be one."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(path, "is a folder; give a sweep YAML file such as configs/quick.yaml")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(path, f"{size:,} bytes: too large for a sweep config (limit {MAX_CONFIG_BYTES:,}); "
                                    "is this the right file?")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except PermissionError:
        raise ConfigError(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot be read ({exc.strerror or exc})") from None
    return parse_config_bytes(data, path)


def parse_config_bytes(data: bytes, path: str | Path = "<config>") -> dict:
    """UTF-8 YAML bytes -> the top-level mapping; ConfigError for anything else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                                "save the file as UTF-8") from None
    if "\x00" in text:
        raise ConfigError(path, "contains NUL characters: not a text file")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise ConfigError(path, "not valid YAML: nested too deeply") from None
    if raw is None:
        raise ConfigError(path, "empty: a sweep config needs at least a grid: block (see configs/quick.yaml)")
    if not isinstance(raw, dict):
        raise ConfigError(path, f"the top level must be a mapping of keys (name, data, training, grid, ...), "
                                f"got {_kind(raw)}")
    return raw


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)


def load_config(path: str | Path) -> SweepConfig:
    """Read and check a sweep YAML; raises ConfigError naming every bad key."""
    return validate(read_config(path), path)


# ---------------------------------------------------------------------------- checking

def validate(raw: Any, path: str | Path = "<config>") -> SweepConfig:
    """Check every key and value of a parsed config; returns the SweepConfig (defaults filled in)."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"the top level must be a mapping of keys, got {_kind(raw)}")
    try:
        model = schema.Sweep.model_validate(raw)
    except ValidationError as exc:
        issues = [_issue(err) for err in exc.errors(include_url=False)]
        raise ConfigError(path, _first(issues)) from None
    except RecursionError:
        raise ConfigError(path, "nested too deeply (a YAML alias that refers to itself?)") from None
    issues = cross_checks(model)
    if issues:
        raise ConfigError(path, _first(issues))
    return SweepConfig(path=Path(path), model=model, raw=raw)


def _first(issues: list[Issue]) -> list[Issue]:
    unique = list(dict.fromkeys(issues))
    if len(unique) > MAX_ISSUES:
        return unique[:MAX_ISSUES] + [Issue("...", f"{len(unique) - MAX_ISSUES} more problem(s) not shown")]
    return unique


_TYPE_PROBLEMS = {"int_type": "not an integer", "float_type": "not a number", "bool_type": "not true/false",
                  "string_type": "not text", "list_type": "not a list", "dict_type": "not a mapping",
                  "model_type": "not a mapping of keys", "model_attributes_type": "not a mapping of keys",
                  "finite_number": "not a finite number", "int_from_float": "not an integer",
                  "greater_than": "out of range", "greater_than_equal": "out of range",
                  "less_than": "out of range", "less_than_equal": "out of range", "too_short": "too few items",
                  "too_long": "too many items", "string_pattern_mismatch": "not an allowed name"}


def _issue(err: dict) -> Issue:
    loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    if loc and loc[-1] == "[key]":                      # a bad name in a mapping (sources:, batch sizes)
        if kind == "value_error":
            return Issue(key_path(loc[:-1]), err["msg"].removeprefix("Value error, "))
        return Issue(key_path(loc[:-1]), f"name {_repr.repr(loc[-2])} must start with a letter or digit and hold "
                                         "only letters, digits, '.', '_' and '-'")
    if kind == "invalid_key":
        return Issue(key_path(loc[:-1]), f"key {_repr.repr(loc[-1])} is not text; keys are names such as 'training'")
    where = key_path(loc)
    if kind == "extra_forbidden":
        allowed = schema.fields_at(schema.Sweep, loc[:-1]) or []
        return Issue(where, unknown_key(loc[-1], allowed))
    if kind == "missing":
        return Issue(where, f"required key missing. Allowed: {schema.expected(loc) or 'see docs/harness.md'}.")
    if kind in ("value_error", "assertion_error"):
        return Issue(where, err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, "))
    allowed = schema.expected(loc)
    if kind == "literal_error":
        problem = f"{_repr.repr(value)} is not allowed."
        choices = [c.strip("'") for c in str(err.get("ctx", {}).get("expected", "")).replace(" or ", ", ").split(", ")]
        problem += suggest(str(value), choices)
        return Issue(where, f"{problem} Allowed: {allowed}.")
    problem = _TYPE_PROBLEMS.get(kind, err["msg"][:1].lower() + err["msg"][1:])
    return Issue(where, f"{problem}. Allowed: {allowed or 'see docs/harness.md'}. Got {_repr.repr(value)} instead.")


def cross_checks(model: schema.Sweep) -> list[Issue]:
    """Problems that involve more than one key."""
    from harness.backbones import get_backbone
    from harness.weights import WeightsSpec

    issues = []
    folds = model.protocol.folds
    total = 0
    for b, block in enumerate(model.grid):
        strategies = sum(2 if s == "hybrid" else 1 for s in block.strategy)
        size = (len(block.backbone) * len(block.weights) * strategies * len(block.input_size)
                * len(block.train_patients) * len(block.seed))
        total += size
        if total > MAX_TRIALS:
            issues.append(Issue("grid", f"expands to more than {MAX_TRIALS:,} trials (grid[{b}] alone: {size:,}); "
                                        "split the sweep into several configs"))
            break
        specs = [get_backbone(name) for name in block.backbone]
        for i, text in enumerate(block.weights):
            w = WeightsSpec.parse(text)
            where = f"grid[{b}].weights[{i}]"
            if w.kind == "source" and w.value not in model.sources and not _exists(w.value, "dir"):
                defined = sorted(model.sources)
                issues.append(Issue(where, f"source {w.value!r} is not defined under sources: "
                                           f"(defined: {', '.join(defined) or 'none'}).{suggest(w.value, defined)}"))
            if w.kind == "imagenet":
                without = [s.name for s in specs if not s.supports_imagenet]
                if without:
                    issues.append(Issue(where, f"{', '.join(without)} have no ImageNet weights; put them in a block "
                                               "without imagenet"))
            if w.kind == "file" and not _exists(w.value, "file"):
                issues.append(Issue(where, f"weights file {w.value} not found"))
        for i, n in enumerate(block.train_patients):
            if n is not None and n < folds:
                issues.append(Issue(f"grid[{b}].train_patients[{i}]",
                                    f"{n} patients cannot make protocol.folds = {folds} folds. Allowed: null (all) "
                                    f"or an integer >= {folds}."))
    return issues


def _exists(path: str, kind: str) -> bool:
    """Path.is_dir / is_file that say False (not ValueError) for names no file can have (NUL bytes)."""
    try:
        return Path(path).is_dir() if kind == "dir" else Path(path).is_file()
    except (OSError, ValueError):
        return False
