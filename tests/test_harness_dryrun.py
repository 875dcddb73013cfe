"""Dry run: metadata only (no data generated, nothing written), fast for every preset, image counts
that match the real split, and estimates from the cost model, a measured profile or the store."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.cli import main
from harness.config import load_config
from harness.cost import (BackboneCost, CostModel, Profile, StepCost, default_profile, load_profile, machine,
                          machine_key, profile_path, save_profile)
from harness.plan import ImageCounts, plan_sweep

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture
def no_rendering(monkeypatch):
    """Fail loudly if anything renders synthetic images or loads a dataset."""
    from harness.data import loading, synth

    def forbidden(*args, **kwargs):
        raise AssertionError("a dry run must not generate or load images")

    monkeypatch.setattr(synth.SyntheticGenerator, "_subject", forbidden)
    monkeypatch.setattr(loading, "load_dataset", forbidden)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_dry_run_of_every_preset_is_fast_and_touches_no_data(tmp_path, monkeypatch, capsys, no_rendering, preset):
    monkeypatch.chdir(tmp_path)                       # the preset's relative cache and store would land here
    t0 = time.perf_counter()
    assert main(["sweep", str(preset), "--dry-run", "--json"]) == 0
    seconds = time.perf_counter() - t0
    out = json.loads(capsys.readouterr().out)
    assert seconds < 5, f"dry run of {preset.name} took {seconds:.1f}s"
    assert list(tmp_path.iterdir()) == []             # nothing written: no data cache, no store
    n_trials = len(load_config(preset).trials())
    assert out["to_run"] == n_trials == len(out["trials"])
    assert all(t["images"]["all"] > 0 and t["estimated_s"] > 0 for t in out["trials"])
    assert all(t["estimate"] == "default table" for t in out["trials"])
    assert "default table" in out["assumed"]["profile"] and out["assumed"]["note"]
    assert out["estimated_total_s"] >= sum(t["estimated_s"] for t in out["trials"])
    assert any(item["what"].startswith("generate synthetic") for item in out["one_off"])


def test_planned_image_counts_match_the_real_split(tmp_path):
    from harness.data import load_dataset
    from harness.sweep import split_patients

    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump({
        "data": {"spec": "synthetic:7T?patients=6&seed=3", "image_size": 32}, "protocol": {"folds": 2},
        "training": {"oversample": {"OAP": 3, "IN": 1, "OBS": 2}}, "cache_dir": str(tmp_path / "cache"),
        "grid": [{"backbone": "CBR-Tiny", "strategy": "full_finetune", "train_patients": [2, None], "seed": [0, 1]}]}))
    config = load_config(cfg_path)
    plan = plan_sweep(config)
    assert {m.how for m in plan.datasets.values()} == {"synthetic plan"}
    dataset = load_dataset("synthetic:7T?patients=6&seed=3", cache_dir=tmp_path / "cache" / "data", image_size=32)
    for tp in plan.trials:
        train, test = split_patients(dataset, tp.spec.to_dict())
        rows = dataset.table[dataset.table["patient"].isin(train)]
        factors = {"OAP": 3, "IN": 1, "OBS": 2}
        assert dataclasses.asdict(tp.images) == {
            "all": len(dataset), "train": len(rows), "test": int(dataset.table["patient"].isin(test).sum()),
            "train_oversampled": int(rows["label"].map(factors).sum()), "train_patients": len(train),
            "test_patients": len(test)}
    # now cached: the next plan reads the cached table instead of planning
    assert {m.how for m in plan_sweep(config).datasets.values()} == {"data cache"}


def _profile(**backbones) -> Profile:
    step = StepCost(0.01, 0.001)
    costs = {k: BackboneCost(int(k.split("@")[1]), 1.0, step, 0.5, StepCost(0.02, 0.004), 2.0, StepCost(0.01, 0.002),
                             1.0) for k in backbones}
    return Profile(machine=machine(), measured_at="now", command="test", startup_s=5.0, head=StepCost(0.001, 1e-5),
                   head_trace_s=0.5, prep_s_per_megapixel=0.2, synth_s_per_patient=0.5, svm_fit_s=0.3, rf_fit_s=3.0,
                   backbones=costs)


def _spec(strategy="full_finetune", epochs=5, backbone="MobileNetV1-0.25", size=64):
    from harness.config import validate

    raw = {"training": {"epochs": epochs, "batch_size": 16}, "protocol": {"folds": 2}, "augmentation": {"copies": 2},
           "grid": [{"backbone": backbone, "strategy": strategy, "input_size": size}]}
    return validate(raw).trials()[0]


IMAGES = ImageCounts(all=400, train=200, test=200, train_oversampled=500, train_patients=8, test_patients=8)


def test_cost_model_follows_epochs_batch_costs_and_input_size():
    model = CostModel(_profile(**{"MobileNetV1-0.25@64": 1}))
    five, ten = (model.trial(_spec(epochs=e), IMAGES) for e in (5, 10))
    trace = 2.0
    assert ten.phases["training"] - trace == pytest.approx(2 * (five.phases["training"] - trace), rel=1e-3)
    # full fine-tuning: (folds x lrs + final fit) x epochs x steps, each step overhead + per-image x batch
    steps = (2 * 3 * np.ceil(500 / 2 / 16) + np.ceil(500 / 16)) * 5
    assert five.phases["training"] == pytest.approx(steps * (0.02 + 0.004 * 16) + trace, abs=0.01)
    # another input size scales the per-image terms by the pixel ratio, and says so
    big = model.trial(_spec(size=128), IMAGES)
    assert big.note == "MobileNetV1-0.25 scaled from 64 px" and big.seconds > 2 * five.seconds
    # cached strategies pay the backbone once, not per epoch
    fe = model.trial(_spec("feature_extractor"), IMAGES)
    assert fe.seconds < five.seconds / 5 and set(fe.phases) == {"build", "cache_fill", "training", "test"}
    other = model.trial(_spec(backbone="VGG16", size=64), IMAGES)
    assert "no figure for VGG16" in other.note


def test_profiles_are_stored_per_machine_merged_and_found(tmp_path):
    profile, measured = load_profile(tmp_path)
    assert not measured and profile.source.startswith("default table")
    a = _profile(**{"CBR-Tiny@32": 1})
    b = dataclasses.replace(_profile(**{"VGG16@224": 1}), startup_s=7.0)
    save_profile(a, tmp_path)
    path = save_profile(b, tmp_path)
    assert path == profile_path(tmp_path) and path.name == f"{machine_key()}.json"
    loaded, measured = load_profile(tmp_path)
    assert measured and set(loaded.backbones) == {"CBR-Tiny@32", "VGG16@224"} and loaded.startup_s == 7.0
    path.write_text("{not json")
    assert load_profile(tmp_path)[1] is False           # unreadable: the default table, not a crash


def test_default_table_covers_every_registry_backbone():
    from harness.backbones import REGISTRY

    table = default_profile()
    assert {k.split("@")[0] for k in table.backbones} >= set(REGISTRY)
    for name, spec in REGISTRY.items():
        cost, note = table.backbone(name, spec.input_size)
        assert note == "" and cost.train(32) > cost.forward(32) > 0


def test_dry_run_prefers_trials_measured_in_the_store(tmp_path, capsys):
    from harness.results import ResultStore

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"spec": "synthetic:3T?patients=6", "image_size": 32},
                                   "protocol": {"folds": 2}, "cache_dir": str(tmp_path / "cache"),
                                   "grid": [{"backbone": "CBR-Tiny", "strategy": "full_finetune", "input_size": 32,
                                             "seed": [0, 1]}]}))
    store = tmp_path / "r.sqlite"
    first = load_config(cfg).trials()[0].to_dict()
    ResultStore(store).record({"trial_id": first["trial_id"], "sweep": "c", "status": "done", "backbone": "CBR-Tiny",
                               "strategy": "full_finetune", "weights": "none", "seed": 0, "config": first,
                               "timings": {"total_s": 42.0}})
    before = store.read_bytes()
    assert main(["sweep", str(cfg), "--dry-run", "--json", "--store", str(store)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["already_done"] == 1 and out["to_run"] == 1
    (trial,) = out["trials"]
    assert trial["estimate"] == "measured in this store" and trial["estimated_s"] == 42.0
    assert store.read_bytes() == before


@pytest.mark.slow
def test_bench_profile_measures_and_the_dry_run_uses_it(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"spec": "synthetic:3T?patients=4", "image_size": 32},
                                   "protocol": {"folds": 2}, "cache_dir": str(tmp_path / "cache"),
                                   "grid": [{"backbone": "CBR-Tiny", "strategy": "full_finetune", "input_size": 32}]}))
    out_file = tmp_path / "profile.json"
    assert main(["bench", "--profile", str(cfg), "--json", "--out", str(out_file)]) == 0
    result = json.loads(capsys.readouterr().out)
    cost = result["profile"]["backbones"]["CBR-Tiny@32"]
    assert cost["train"]["overhead_s"] + 16 * cost["train"]["per_image_s"] > 0
    assert result["profile"]["startup_s"] > 0 and json.loads(out_file.read_text())["machine_key"] == machine_key()
    assert Path(result["path"]).parent == tmp_path / "cache" / "profiles"
    assert main(["sweep", str(cfg), "--dry-run", "--json", "--store", str(tmp_path / "r.sqlite")]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["trials"][0]["estimate"] == "profile" and plan["assumed"]["note"] is None
    assert os.path.samefile(plan["assumed"]["profile"], result["path"])


def test_docs_show_the_default_table(repo_root):
    from harness.cost import markdown_table

    docs = (repo_root / "docs" / "harness.md").read_text(encoding="utf-8")
    assert markdown_table(default_profile()) in docs, \
        "docs/harness.md's default cost table is stale: paste the output of `python -m harness.cost`"
