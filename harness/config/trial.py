"""`TrialSpec`: one point of a sweep's grid with every setting that shapes its result.

The trial id is a hash of the full specification (`to_dict()` without the id), so the
same configuration always gets the same id and a finished trial is never run twice, and
any change of a setting that can change the result gives a new id. Settings that cannot
change a result (isolation, cache folder, store) are not part of it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


def _frozen(value: Any) -> Any:
    """Read-only view of nested JSON-like data (dicts become mappingproxies, lists tuples)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    return value


@dataclass(frozen=True)
class TrialSpec:
    """A trial: grid point + the config sections it runs with. Change one with `dataclasses.replace`."""

    backbone: str
    weights: str
    strategy: str
    input_size: int | None
    train_patients: int | None
    seed: int
    first_trainable: str | None
    strategy_options: Mapping[str, Any]
    data: Mapping[str, Any]
    preprocessing: Mapping[str, Any]
    augmentation: Mapping[str, Any]
    training: Mapping[str, Any]
    protocol: Mapping[str, Any]
    source: Mapping[str, Any] | None = None
    trial_id: str = field(init=False)

    def __post_init__(self) -> None:
        for name in ("strategy_options", "data", "preprocessing", "augmentation", "training", "protocol", "source"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "trial_id", trial_id(self._body()))

    def _body(self) -> dict:
        body = {name: _thawed(getattr(self, name)) for name in (
            "backbone", "weights", "strategy", "input_size", "train_patients", "seed", "first_trainable",
            "strategy_options", "data", "preprocessing", "augmentation", "training", "protocol")}
        if self.source is not None:          # only source: weights carry their source's definition
            body["source"] = _thawed(self.source)
        return body

    def __hash__(self) -> int:
        return hash(self.trial_id)

    def __reduce__(self):
        """Pickle as plain data (mapping proxies do not pickle): executors can ship specs to workers."""
        body = self._body()
        return (_rebuild, (body,))

    def to_dict(self) -> dict:
        """Plain nested dict (JSON types) with `trial_id`: what `run_trial` takes and the store keeps."""
        return {**self._body(), "trial_id": self.trial_id}

    def label(self) -> str:
        return f"{self.backbone} {self.strategy} {self.weights}"


def _rebuild(body: dict) -> TrialSpec:
    return TrialSpec(**body)


def trial_id(trial: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the trial's configuration, without its id."""
    body = {k: v for k, v in trial.items() if k != "trial_id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
