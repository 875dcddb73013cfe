"""Sweeps: dry run, resume after kill -9 (nothing lost, nothing repeated), results export."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.results import ResultStore

from harness_toy import tiny_dataset


def _config(tmp_path: Path, seeds=(0,)) -> Path:
    data = tmp_path / "toy"
    tiny_dataset(n_patients=8).save(data)
    cfg = {
        "name": "toy",
        "data": {"spec": str(data), "image_size": 40},
        "training": {"epochs": 2, "batch_size": 16, "oversample": {"OAP": 2, "IN": 1, "OBS": 2}},
        "protocol": {"folds": 2},
        "strategies": {"feature_extractor": {"lrs": [1e-2]}, "hybrid": {"svm": {"C": [1.0]}, "rf": {"n_estimators": [10]}}},
        "cache_dir": str(tmp_path / "cache"),
        "grid": [{"backbone": ["MobileNetV1-0.25"], "input_size": [32], "weights": ["none"],
                  "strategy": ["feature_extractor", "hybrid"], "seed": list(seeds)}],
    }
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_dry_run_lists_trials_with_an_estimate(tmp_path, capsys):
    cfg = _config(tmp_path, seeds=(0, 1))
    assert main(["sweep", str(cfg), "--dry-run", "--json", "--store", str(tmp_path / "r.sqlite")]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["to_run"] == 6 and plan["already_done"] == 0
    assert plan["estimated_total_s"] > 0 and all(t["estimate"] in ("default table", "profile") for t in plan["trials"])
    assert not (tmp_path / "r.sqlite").exists()          # a dry run writes nothing


def test_bad_config_fails_before_training(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"grid": [{"backbone": ["NoSuchNet"], "strategy": ["feature_extractor"]}]}))
    assert main(["sweep", str(bad), "--store", str(tmp_path / "r.sqlite")]) == 2
    assert "grid[0].backbone[0]" in capsys.readouterr().err
    assert not (tmp_path / "r.sqlite").exists()


def test_results_command_exports_csv_and_json(tmp_path, capsys):
    store = ResultStore(tmp_path / "r.sqlite")
    store.record({"trial_id": "x1", "sweep": "s", "status": "done", "backbone": "CBR-Tiny", "strategy": "full_finetune",
                  "weights": "none", "seed": 0, "config": {}, "metrics": {"test": {"accuracy": 0.75}},
                  "timings": {"total_s": 2.0}, "versions": {}})
    assert main(["results", "--csv", "--store", str(tmp_path / "r.sqlite")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("trial_id,") and "0.75" in out
    assert main(["results", "--json", "--store", str(tmp_path / "r.sqlite")]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metrics"]["test"]["accuracy"] == 0.75
    assert main(["results", "--store", str(tmp_path / "missing.sqlite")]) == 2


@pytest.mark.slow
def test_kill_minus_nine_then_resume_loses_nothing_and_repeats_nothing(tmp_path):
    cfg = _config(tmp_path, seeds=(0, 1))
    store_path = tmp_path / "r.sqlite"
    cmd = [sys.executable, "-m", "harness.cli", "sweep", str(cfg), "--store", str(store_path), "--no-progress", "--json"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 240
    done_before: list[dict] = []
    while time.time() < deadline and proc.poll() is None:
        if store_path.exists():
            done_before = ResultStore(store_path).rows("done")
            if done_before:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "sweep finished before it could be killed; make the toy sweep longer"
    assert done_before, "no trial finished within the time limit"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_rows = ResultStore(store_path).rows("done")
    assert len(killed_rows) >= 1

    again = subprocess.run(cmd, capture_output=True, text=True, env=env)          # without --resume: refused
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=env, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert summary["trials"] == 6
    assert summary["skipped_done"] == len(killed_rows) and summary["ran"] == 6 - len(killed_rows)
    rows = ResultStore(store_path).rows("done")
    assert len(rows) == 6 and len({r["trial_id"] for r in rows}) == 6
    before = {r["trial_id"]: r["finished_at"] for r in killed_rows}
    assert all(r["finished_at"] == before[r["trial_id"]] for r in rows if r["trial_id"] in before)
    for r in rows:   # every row carries its provenance
        assert r["versions"]["keras"] and r["backend"] and r["device"] and r["machine"]
        assert r["weights_label"].startswith("none") and r["config"]["seed"] in (0, 1)


@pytest.mark.slow
def test_bench_reports_speedups_and_equal_metrics(tmp_path):
    from harness.bench import Bench
    from harness.config import load_config

    result = Bench(load_config(_config(tmp_path)), data_cache=tmp_path / "cache").run(progress=False)
    rows = {r["strategy"]: r for r in result["rows"]}
    assert set(rows) == {"feature_extractor", "hybrid_svm", "hybrid_rf"} and result["partial_speedup"] is None
    assert result["max_metric_difference"] <= 0.01 and result["max_score_difference"] < 1e-3
    for row in rows.values():   # both paths' test metrics, and where the time went
        assert row["test_metrics"]["naive"]["auc_weighted"] == pytest.approx(row["test_metrics"]["cached"]["auc_weighted"],
                                                                              abs=0.01)
        assert row["phases"]["naive"]["features_s"] == 0.0 and row["phases"]["cached"]["features_s"] > 0.0
    assert result["feature_extractor_auc_weighted"] >= 0.7        # the toy data is learned from the frozen features
    assert result["targets_met"]["feature_extractor_auc_weighted"] is True
    assert result["backend"] and result["versions"]["keras"]
