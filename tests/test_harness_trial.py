"""A trial is a pure function of (config, seed, data): same seed, same numbers, whatever ran before."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.config import load_config

from harness_toy import tiny_dataset


def _config(tmp_path: Path, isolation: str = "session", seeds=(0,)) -> Path:
    data = tmp_path / "toy"
    if not data.exists():
        tiny_dataset(n_patients=6).save(data)
    cfg = {
        "name": f"toy-{isolation}",
        "data": {"spec": str(data), "image_size": 40},
        "augmentation": {"rotation": 20.0, "zoom": 0.8, "copies": 1},
        "training": {"epochs": 3, "batch_size": 16, "oversample": {"OAP": 2, "IN": 1, "OBS": 2}},
        "protocol": {"folds": 2},
        "strategies": {"feature_extractor": {"lrs": [1e-2, 1e-3]},
                       "partial_finetune": {"lrs": [1e-2], "head_lrs": [1e-2], "depth": 1}},
        "cache_dir": str(tmp_path / "cache"),
        "isolation": isolation,
        "grid": [{"backbone": ["MobileNetV1-0.25"], "input_size": [32], "weights": ["none"],
                  "strategy": ["feature_extractor", "partial_finetune"], "seed": list(seeds)}],
    }
    path = tmp_path / f"toy-{isolation}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _numbers(row: dict) -> str:
    """Everything a trial computed (test metrics, selection curves, parameters), to the last digit."""
    m = row["metrics"]
    return json.dumps({"test": m["test"], "selection": m["selection"], "params": m["params"]}, sort_keys=True)


def test_same_seed_twice_gives_identical_numbers_with_another_trial_in_between(tmp_path):
    """On CPU: identical to the last digit, although a different trial (other model, other
    random state, a second feature cache) ran in between in the same process."""
    import keras

    from harness.trial import run_trial

    fe, partial = load_config(_config(tmp_path)).trials()
    first = run_trial(fe, tmp_path / "cache-a")
    keras.backend.clear_session()
    run_trial(partial, tmp_path / "cache-b")
    keras.backend.clear_session()
    again = run_trial(fe, tmp_path / "cache-c")          # fresh cache: recomputed, not read back
    assert _numbers(again) == _numbers(first)
    assert again["metrics"]["selection"]["mean_curves"] == first["metrics"]["selection"]["mean_curves"]


@pytest.mark.slow
def test_a_trial_in_its_own_process_gives_the_same_numbers_as_in_the_session(tmp_path):
    """isolation: process (a spawned interpreter) and isolation: session store identical metrics."""
    from harness.store import ResultStore
    from harness.sweep import Sweep

    rows = {}
    for isolation in ("session", "process"):
        sweep = Sweep(load_config(_config(tmp_path, isolation)), store_path=tmp_path / f"{isolation}.sqlite",
                      progress=False)
        summary = sweep.run()
        assert summary["failed"] == 0, ResultStore(tmp_path / f"{isolation}.sqlite").rows()
        rows[isolation] = {r["strategy"]: r for r in ResultStore(tmp_path / f"{isolation}.sqlite").rows("done")}
    assert set(rows["session"]) == {"feature_extractor", "partial_finetune"}
    for strategy, row in rows["session"].items():
        assert _numbers(rows["process"][strategy]) == _numbers(row), strategy
