"""Executors without Ray: the process executor hands rows to the driver, a dead child becomes a failed row,
the Ray executor's options are checked before anything starts and its absence is a clear message."""
from __future__ import annotations

import os
import sys
import time

import pytest
import yaml

from harness.cli import main
from harness.config import load_config
from harness.executors import ExecutorError
from harness.executors.process import ProcessExecutor
from harness.results import ResultStore
from harness.sweep import Sweep

from test_harness_strategies import tiny_dataset


def toy_config(tmp_path, seeds=(0,), strategies=("full_finetune",), weights=("none",), sources=None):
    """A sweep over CBR-Tiny at 32 px, one epoch, on an 8-patient toy dataset (seconds per trial)."""
    data = tmp_path / "toy"
    if not data.exists():
        tiny_dataset(n_patients=8).save(data)
    cfg = {
        "name": "toy",
        "data": {"spec": str(data), "image_size": 40},
        "training": {"epochs": 1, "batch_size": 16, "oversample": {"OAP": 2, "IN": 1, "OBS": 2}},
        "protocol": {"folds": 2},
        "strategies": {"feature_extractor": {"lrs": [1e-2]}, "full_finetune": {"lrs": [1e-2]}},
        "cache_dir": str(tmp_path / "cache"),
        "grid": [{"backbone": ["CBR-Tiny"], "input_size": [32], "weights": list(weights),
                  "strategy": list(strategies), "seed": list(seeds)}],
    }
    if sources:
        cfg["sources"] = sources
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def fake_runner(trial: dict, cache_dir, sources_root) -> dict:
    """Stands in for run_trial in a spawned child (no Keras): a row that says which process made it."""
    if trial["seed"] == 1:
        os._exit(7)                              # the child dies without a row
    return {"trial_id": trial["trial_id"], "status": "done", "backbone": trial["backbone"],
            "strategy": trial["strategy"], "weights": trial["weights"], "seed": trial["seed"], "config": trial,
            "metrics": {"pid": os.getpid()}, "started_at": time.time(), "finished_at": time.time(),
            "test_proba": [[1.0, 0.0, 0.0]]}


def test_process_executor_returns_rows_to_the_driver(tmp_path):
    cfg = load_config(toy_config(tmp_path, seeds=(0, 1)))
    summary = Sweep(cfg, store_path=tmp_path / "r.sqlite", progress=False, executor=ProcessExecutor(fake_runner)).run()
    assert summary == {"store": str(tmp_path / "r.sqlite"), "trials": 2, "skipped_done": 0, "ran": 2, "failed": 1}
    rows = {r["seed"]: r for r in ResultStore(tmp_path / "r.sqlite").rows()}
    assert rows[0]["status"] == "done" and rows[0]["metrics"]["pid"] != os.getpid()   # ran in a child ...
    assert rows[0]["timings"]["executor"] == {"name": "process"}                         # ... the driver stored it
    assert rows[1]["status"] == "failed" and "exited with code 7" in rows[1]["error"]


def test_ray_options_are_checked_before_anything_starts(tmp_path, capsys):
    cfg = str(toy_config(tmp_path))
    store = str(tmp_path / "r.sqlite")
    assert main(["sweep", cfg, "--store", store, "--address", "auto"]) == 2
    assert "--address only apply with --executor ray" in capsys.readouterr().err
    pytest.importorskip("ray")
    from harness.executors.ray import RayExecutor

    for bad in ({"gpus_per_trial": 1.5}, {"gpus_per_trial": -1}, {"cpus_per_trial": 0}, {"max_retries": -1},
                {"max_in_flight": 0}):
        with pytest.raises(ExecutorError, match="Got"):
            RayExecutor(**bad)
    assert main(["sweep", cfg, "--store", store, "--executor", "ray", "--gpus-per-trial", "1.5"]) == 2
    assert "gpus_per_trial must be 0, a fraction up to 1" in capsys.readouterr().err
    assert not (tmp_path / "r.sqlite").exists()


def test_missing_ray_is_a_clear_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)          # what `import ray` does where it is not installed
    assert main(["sweep", str(toy_config(tmp_path)), "--store", str(tmp_path / "r.sqlite"), "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert "needs Ray" in err and 'pip install -e ".[ray]"' in err and "Traceback" not in err
    assert not (tmp_path / "r.sqlite").exists()


class _Nodes:
    """Stands in for the `ray` module's cluster view in capacity checks."""

    def __init__(self, *resources):
        self._nodes = [{"Alive": True, "Resources": r} for r in resources]

    def nodes(self):
        return self._nodes


@pytest.mark.parametrize("nodes, gpus, cpus, expected", [
    ([{"CPU": 64, "GPU": 8}], None, 1, (1.0, 8)),                 # a GPU node: one GPU per trial by default
    ([{"CPU": 64, "GPU": 8}], 0.25, 1, (0.25, 32)),               # four trials per GPU
    ([{"CPU": 16, "GPU": 8}], 0.25, 1, (0.25, 16)),               # ... unless CPUs run out first
    ([{"CPU": 2}], None, 1, (0.0, 2)),                            # CPU only: no GPU asked for
    ([{"CPU": 8, "GPU": 4}, {"CPU": 8, "GPU": 4}], 2, 4, (2.0, 4)),
])
def test_capacity_of_the_cluster(nodes, gpus, cpus, expected):
    pytest.importorskip("ray")
    from harness.executors.ray import RayExecutor

    executor = RayExecutor(gpus_per_trial=gpus, cpus_per_trial=cpus)
    assert executor._fit(_Nodes(*nodes)) == expected


def test_a_trial_no_node_fits_is_refused():
    pytest.importorskip("ray")
    from harness.executors.ray import RayExecutor

    with pytest.raises(ExecutorError, match="no node of the Ray cluster fits one trial of 1 CPU and 1 GPU"):
        RayExecutor(gpus_per_trial=1)._fit(_Nodes({"CPU": 2}))


def test_worker_limits_memory_before_the_backend_loads(monkeypatch, tmp_path):
    pytest.importorskip("ray")
    from harness.executors.ray import prepare_worker

    environ = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "XLA_PYTHON_CLIENT_MEM_FRACTION")}
    monkeypatch.setattr(os, "environ", environ)          # what the worker sets stays out of this process
    monkeypatch.chdir(tmp_path)
    env = prepare_worker({"gpus": 0.25, "keras_backend": "jax", "workdir": str(tmp_path)})
    assert env == {"KERAS_BACKEND": "jax", "TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.225"}
    assert environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.225" and environ["KERAS_BACKEND"] == "jax"
    assert prepare_worker({"gpus": 0, "keras_backend": None})["CUDA_VISIBLE_DEVICES"] == ""   # CPU trials see no GPU
