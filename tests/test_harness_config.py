"""Bad configs fail before training, naming the key; presets validate and expand."""
from __future__ import annotations

import copy

import pytest
import yaml

from harness.config import ConfigError, load_config, trial_id, validate

GOOD = {
    "name": "t",
    "sources": {"s1": {"data": "synthetic:1.5T?patients=4", "epochs": 1}},
    "grid": [{"backbone": ["MobileNetV1-0.25", "vgg16"], "weights": ["none", "source:s1"],
              "strategy": ["feature_extractor", "hybrid"], "input_size": [32]}],
}


def _bad(path: str, value):
    raw = copy.deepcopy(GOOD)
    keys = path.split(".")
    node = raw
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
    node[keys[-1]] = value
    return raw


def test_good_config_expands_hybrid_into_svm_and_rf():
    cfg = validate(GOOD)
    trials = cfg.trials()
    assert len(trials) == 2 * 2 * 3
    assert {t["strategy"] for t in trials} == {"feature_extractor", "hybrid_svm", "hybrid_rf"}
    assert len({t["trial_id"] for t in trials}) == len(trials)
    assert all(t["trial_id"] == trial_id(t) for t in trials)


def test_trial_ids_are_stable_and_config_sensitive():
    a = validate(GOOD).trials()
    b = validate(copy.deepcopy(GOOD)).trials()
    assert [t["trial_id"] for t in a] == [t["trial_id"] for t in b]
    c = validate({**copy.deepcopy(GOOD), "training": {"epochs": 7}}).trials()
    assert not {t["trial_id"] for t in a} & {t["trial_id"] for t in c}


@pytest.mark.parametrize("path,value,key", [
    ("grid.0.backbone", ["MobileNetV1-0.25", "VGG61"], "grid[0].backbone[1]"),
    ("grid.0.strategy", ["fine_tune_everything"], "grid[0].strategy[0]"),
    ("grid.0.weights", ["source:nowhere"], "grid[0].weights[0]"),
    ("grid.0.weights", ["imagenet21k"], "grid[0].weights[0]"),
    ("grid.0.input_size", [8], "grid[0].input_size[0]"),
    ("grid.0.colour", ["red"], "grid[0].colour"),
    ("training.epochs", 0, "training.epochs"),
    ("training.select_on", "val_f1", "training.select_on"),
    ("protocol.folds", 1, "protocol.folds"),
    ("strategies.feature_extractor.lrs", [0.01, "fast"], "strategies.feature_extractor.lrs[1]"),
    ("strategies.full_finetune.lrs", [-0.1], "strategies.full_finetune.lrs[0]"),
    ("isolation", "thread", "isolation"),
    ("learning_rate", 0.1, "learning_rate"),
])
def test_bad_values_are_reported_with_their_key(path, value, key):
    with pytest.raises(ConfigError) as err:
        validate(_bad(path, value), "bad.yaml")
    assert f"bad.yaml: {key}" in str(err.value)


def test_imagenet_for_cbr_is_refused():
    raw = {"grid": [{"backbone": ["CBR-Tiny"], "weights": ["imagenet"], "strategy": ["full_finetune"]}]}
    with pytest.raises(ConfigError, match=r"grid\[0\].weights\[0\].*ImageNet"):
        validate(raw)


def test_missing_and_invalid_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_presets_validate(repo_root):
    quick = load_config(repo_root / "configs" / "quick.yaml")
    assert 4 <= len(quick.trials()) <= 12
    paper = load_config(repo_root / "configs" / "ho-kim-2021.yaml")
    trials = paper.trials()
    backbones = {t["backbone"] for t in trials}
    assert len(backbones) == 12
    assert {t["strategy"] for t in trials} == {"feature_extractor", "partial_finetune", "full_finetune"}
    fe = next(t for t in trials if t["strategy"] == "feature_extractor")
    assert fe["strategy_options"]["lrs"] == [1e-2, 1e-3, 1e-4]
    assert fe["training"]["epochs"] == 50 and fe["protocol"]["folds"] == 5
    assert yaml.safe_load((repo_root / "configs" / "ho-kim-2021.yaml").read_text())["name"] == "ho-kim-2021"
