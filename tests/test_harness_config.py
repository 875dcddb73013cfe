"""Bad configs fail before training, naming the file, the key path and what is allowed; presets validate."""
from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
import yaml

from harness.config import ConfigError, TrialSpec, load_config, trial_id, validate
from harness.config.schema import markdown_key_table

GOOD = {
    "name": "t",
    "sources": {"s1": {"data": "synthetic:1.5T?patients=4", "epochs": 1}},
    "grid": [{"backbone": ["MobileNetV1-0.25", "vgg16"], "weights": ["none", "source:s1"],
              "strategy": ["feature_extractor", "hybrid"], "input_size": [32]}],
}


def _with(path: str, value, base: dict | None = None) -> dict:
    """GOOD with the value at a dotted path ('grid.0.backbone') replaced (sections created as needed)."""
    raw = copy.deepcopy(base or GOOD)
    keys = path.split(".")
    node = raw
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
    node[keys[-1]] = value
    return raw


def _error(raw, name: str = "bad.yaml") -> str:
    with pytest.raises(ConfigError) as err:
        validate(raw, name)
    return str(err.value)


def test_good_config_expands_hybrid_into_svm_and_rf():
    trials = validate(GOOD).trials()
    assert len(trials) == 2 * 2 * 3
    assert all(isinstance(t, TrialSpec) for t in trials)
    assert {t.strategy for t in trials} == {"feature_extractor", "hybrid_svm", "hybrid_rf"}
    assert {t.backbone for t in trials} == {"MobileNetV1-0.25", "VGG16"}     # canonical names
    assert len({t.trial_id for t in trials}) == len(trials)
    assert all(t.trial_id == trial_id(t.to_dict()) for t in trials)


def test_trial_ids_are_stable_and_config_sensitive():
    a = validate(GOOD).trials()
    b = validate(copy.deepcopy(GOOD)).trials()
    assert [t.trial_id for t in a] == [t.trial_id for t in b]
    c = validate({**copy.deepcopy(GOOD), "training": {"epochs": 7}}).trials()
    assert not {t.trial_id for t in a} & {t.trial_id for t in c}
    # settings that cannot change a result do not change the id; an alias is the same backbone
    d = validate({**copy.deepcopy(GOOD), "isolation": "process", "cache_dir": "/tmp/x", "store": "y.sqlite"}).trials()
    assert [t.trial_id for t in a] == [t.trial_id for t in d]
    e = validate(_with("grid.0.backbone", ["mobilenetv1", "VGG16"])).trials()
    assert [t.trial_id for t in a] == [t.trial_id for t in e]


def test_trial_spec_is_frozen_and_replace_gives_a_new_id():
    spec = validate(GOOD).trials()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 3
    with pytest.raises(TypeError):
        spec.training["epochs"] = 3
    other = dataclasses.replace(spec, seed=3)
    assert other.trial_id != spec.trial_id and other.to_dict()["seed"] == 3
    as_dict = spec.to_dict()
    as_dict["training"]["epochs"] = 99                       # a copy: the spec is unchanged
    assert spec.training["epochs"] == 50
    again = pickle.loads(pickle.dumps(spec))                 # executors ship specs to worker processes
    assert again == spec and again.trial_id == spec.trial_id and hash(again) == hash(spec)
    assert len({spec, again, other}) == 2


# Each case: where the bad value goes, the value, the key path the error must name, and text it must hold.
BAD = [
    ("training.epoch", 5, "training.epoch", "Did you mean 'epochs'?"),
    ("training.momentum", "fast", "training.momentum", "a number >= 0 and < 1. Got 'fast'"),
    ("data.test_fraction", "half", "data.test_fraction", "a number > 0 and < 1"),
    ("augmentation.rotation", "banana", "augmentation.rotation", "Got 'banana' instead"),
    ("preprocessing.crop_fraction", 1.5, "preprocessing.crop_fraction", "< 1. Got 1.5"),
    ("training.decay", -3, "training.decay", "a number >= 0. Got -3"),
    ("training.epochs", 0, "training.epochs", "an integer >= 1"),
    ("training.epochs", 5.5, "training.epochs", "not an integer"),
    ("training.epochs", "5", "training.epochs", "not an integer"),
    ("training.nesterov", "yes", "training.nesterov", "true or false"),
    ("training.select_on", "val_acc", "training.select_on", "Did you mean 'val_accuracy'?"),
    ("training.precision", "fp16", "training.precision", "'mixed_float16'"),
    ("training.batchnorm", "freeze", "training.batchnorm", "Did you mean 'frozen'?"),
    ("training.oversample.OAPP", 3, "training.oversample.OAPP", "Did you mean 'OAP'?"),
    ("training.batch_size_per_backbone", {"InceptionResNet": 8}, "training.batch_size_per_backbone.InceptionResNet",
     "Did you mean 'InceptionResNetV2'?"),
    ("protocol.folds", 1, "protocol.folds", "an integer >= 2"),
    ("protocol.fold", 5, "protocol.fold", "Did you mean 'folds'?"),
    ("augmentation.copy", 2, "augmentation.copy", "Did you mean 'copies'?"),
    ("preprocessing.percentile", [1, 99], "preprocessing.percentile", "Did you mean 'percentiles'?"),
    ("preprocessing.percentiles", [98, 2], "preprocessing", "0 <= low < high <= 100"),
    ("data.imagesize", 64, "data.imagesize", "Did you mean 'image_size'?"),
    ("data.spec", "synthetic:9T", "data.spec", "unknown domain '9T'"),
    ("data.frames", "ed", "data.frames", "one of 'ed_es', 'all'"),
    ("strategies.feature_extractor.lr", [0.1], "strategies.feature_extractor.lr", "Did you mean 'lrs'?"),
    ("strategies.feature_extractor.lrs", [0.01, "fast"], "strategies.feature_extractor.lrs[1]", "a number > 0"),
    ("strategies.full_finetune.lrs", [-0.1], "strategies.full_finetune.lrs[0]", "Got -0.1"),
    ("strategies.partial_finetune.dept", 2, "strategies.partial_finetune.dept", "Did you mean 'depth'?"),
    ("strategies.hybrid.svm.c", [1.0], "strategies.hybrid.svm.c", "Did you mean 'C'?"),
    ("strategies.hybrid.rf.n_estimator", [10], "strategies.hybrid.rf.n_estimator", "Did you mean 'n_estimators'?"),
    ("strategies.hybrid.knn", {}, "strategies.hybrid.knn", "Allowed: rf, svm"),
    ("strategies.fine_tune", {}, "strategies.fine_tune", "Allowed: feature_extractor"),
    ("sources.s1.epoch", 3, "sources.s1.epoch", "Did you mean 'epochs'?"),
    ("sources.s1.lr", 0, "sources.s1.lr", "a number > 0"),
    ("sources.bad name", {"data": "synthetic"}, "sources.bad name", "letters, digits"),
    ("grid.0.backbone", ["MobileNetV1-0.25", "VGG61"], "grid[0].backbone[1]", "Did you mean 'VGG16'?"),
    ("grid.0.strategy", ["fine_tune_everything"], "grid[0].strategy[0]", "unknown strategy"),
    ("grid.0.weights", ["source:nowhere"], "grid[0].weights[0]", "not defined under sources"),
    ("grid.0.weights", ["imagenet21k"], "grid[0].weights[0]", "unknown weights"),
    ("grid.0.input_size", [8], "grid[0].input_size[0]", "null or an integer >= 32"),
    ("grid.0.seed", [-1], "grid[0].seed[0]", "an integer >= 0"),
    ("grid.0.train_patients", [1], "grid[0].train_patients[0]", "protocol.folds"),
    ("grid.0.colour", ["red"], "grid[0].colour", "Allowed: backbone"),
    ("grid.0.seeds", [1], "grid[0].seeds", "Did you mean 'seed'?"),
    ("isolation", "thread", "isolation", "'session', 'process'"),
    ("learning_rate", 0.1, "learning_rate", "unknown key"),
    ("trainig", {"epochs": 1}, "trainig", "Did you mean 'training'?"),
    ("name", "my sweep/../x", "name", "not an allowed name"),
    ("grid", [], "grid", "too few items"),
]


@pytest.mark.parametrize("path,value,key,text", BAD, ids=[f"{c[0]}={c[1]!r}" for c in BAD])
def test_bad_keys_and_values_name_file_key_and_what_is_allowed(path, value, key, text):
    message = _error(_with(path, value))
    line = next((ln for ln in message.splitlines() if ln.startswith(f"bad.yaml: {key}: ")), None)
    assert line is not None, message
    assert text in line, line


def test_every_problem_is_reported_at_once():
    raw = _with("training.epoch", 5, _with("augmentation.rotation", "banana", _with("protocol.folds", 1)))
    lines = _error(raw).splitlines()
    assert [ln.split(":")[1].strip() for ln in lines] == ["augmentation.rotation", "training.epoch", "protocol.folds"]


def test_grid_block_needs_backbone_and_strategy():
    message = _error({"grid": [{"weights": "none"}]})
    assert "grid[0].backbone: required key missing" in message and "grid[0].strategy: required" in message


def test_imagenet_for_cbr_is_refused():
    raw = {"grid": [{"backbone": ["CBR-Tiny"], "weights": ["imagenet"], "strategy": ["full_finetune"]}]}
    assert "grid[0].weights[0]: CBR-Tiny have no ImageNet weights" in _error(raw)


def test_numbers_written_as_text_and_single_values_are_accepted():
    cfg = validate(_with("strategies.feature_extractor.lrs", "1e-3", _with("grid.0.seed", 3)))
    fe = next(t for t in cfg.trials() if t.strategy == "feature_extractor")
    assert fe.strategy_options["lrs"] == (0.001,) and fe.seed == 3


def test_empty_sections_mean_defaults_and_defaults_are_the_papers():
    spec = validate({**GOOD, "training": None, "protocol": None}).trials()[0]
    assert spec.training["epochs"] == 50 and spec.training["batch_size"] == 32
    assert spec.training["momentum"] == 0.9 and spec.training["decay"] == 1e-6
    assert dict(spec.training["oversample"]) == {"OAP": 6, "IN": 1, "OBS": 6}
    assert spec.protocol["folds"] == 5 and spec.augmentation["rotation"] == 45.0


def test_partial_sections_merge_with_defaults():
    spec = validate(_with("training.oversample", {"OAP": 3})).trials()[0]
    assert dict(spec.training["oversample"]) == {"OAP": 3, "IN": 1, "OBS": 6}
    assert validate(_with("training.oversample", None)).trials()[0].training["oversample"] is None


def test_mixed_precision_is_an_alias_of_precision():
    spec = validate(_with("training.mixed_precision", True)).trials()[0]
    assert spec.training["precision"] == "mixed_float16" and "mixed_precision" not in spec.training
    assert validate(_with("training.mixed_precision", False)).trials()[0].training["precision"] == "float32"
    raw = _with("training.precision", "mixed_bfloat16", _with("training.mixed_precision", False))
    assert "contradicts precision: mixed_bfloat16" in _error(raw)


def test_batch_size_per_backbone_sets_each_trials_batch_size():
    raw = _with("training.batch_size_per_backbone", {"vgg16": 8})
    sizes = {t.backbone: t.training["batch_size"] for t in validate(raw).trials()}
    assert sizes == {"VGG16": 8, "MobileNetV1-0.25": 32}
    assert all("batch_size_per_backbone" not in t.training for t in validate(raw).trials())


def test_hybrid_trials_carry_their_own_grid_and_the_learner_sees_it():
    from harness.strategies import TrainSettings, make_learner

    raw = _with("strategies.hybrid", {"svm": {"C": [0.5, 2.0], "kernel": ["rbf", "linear"]}})
    trials = {t.strategy: t for t in validate(raw).trials() if t.backbone == "VGG16" and t.weights == "none"}
    svm = trials["hybrid_svm"].to_dict()["strategy_options"]
    assert svm == {"svm": {"C": [0.5, 2.0], "kernel": ["rbf", "linear"]}}
    learner = make_learner("hybrid_svm", None, TrainSettings(), svm)
    assert len(learner.candidates()) == 4 and {"C": 2.0, "kernel": "linear"} in learner.candidates()
    # editing the forest grid leaves the SVM trials' ids alone
    other = _with("strategies.hybrid.rf", {"n_estimators": [7]}, raw)
    ids = {t.strategy: t.trial_id for t in validate(other).trials() if t.backbone == "VGG16" and t.weights == "none"}
    assert ids["hybrid_svm"] == trials["hybrid_svm"].trial_id and ids["hybrid_rf"] != trials["hybrid_rf"].trial_id


def test_source_trials_carry_the_source_definition():
    trials = validate(GOOD).trials()
    src = next(t for t in trials if t.weights == "source:s1")
    assert dict(src.source) == {"data": "synthetic:1.5T?patients=4", "epochs": 1, "lr": 0.01, "seed": 0}
    assert next(t for t in trials if t.weights == "none").source is None


def test_huge_grids_are_refused():
    raw = _with("grid.0.seed", list(range(30000)))
    assert "expands to more than 100,000 trials" in _error(raw)


@pytest.mark.parametrize("content,text", [
    (b"", "empty"),
    (b"# only a comment\n", "empty"),
    (b"- a\n- b\n", "must be a mapping of keys (name, data, training, grid, ...), got a list"),
    (b"just text\n", "got text"),
    (b"grid: [unclosed\n", "not valid YAML"),
    (b"name: caf\xe9\n", "not UTF-8 text (byte 0xe9 at offset 9)"),
    (b"name: a\x00b\n", "NUL"),
    (b"a: &x [*x]\ngrid: *x\n", "grid"),
])
def test_unusable_files_are_config_errors(tmp_path, content, text):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ") and text in str(err.value)


def test_missing_folder_and_oversized_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (2 << 20))
    with pytest.raises(ConfigError, match="too large"):
        load_config(big)


def test_cli_prints_config_errors_without_traceback(tmp_path, capsys):
    from harness.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with("training.epoch", 5)))
    store = tmp_path / "r.sqlite"
    assert main(["sweep", str(bad), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: training.epoch: unknown key 'epoch'. Did you mean 'epochs'?" in err
    assert "Traceback" not in err and not store.exists()
    assert main(["bench", str(bad)]) == 2
    assert "training.epoch" in capsys.readouterr().err


def test_presets_validate(repo_root):
    quick = load_config(repo_root / "configs" / "quick.yaml")
    trials = quick.trials()
    assert len(trials) == 12           # FE x 2 weights x 3 seeds, full x 2 weights, hybrid svm + rf, partial, CBR
    contrast = {(t.weights, t.strategy): set() for t in trials}
    for t in trials:
        contrast[(t.weights, t.strategy)].add(t.seed)
    for weights in ("source:synth15", "none"):
        assert contrast[(weights, "feature_extractor")] == {0, 1, 2}
        assert contrast[(weights, "full_finetune")] == {0}
    paper = load_config(repo_root / "configs" / "ho-kim-2021.yaml")
    trials = paper.trials()
    assert len({t.backbone for t in trials}) == 12
    assert {t.strategy for t in trials} == {"feature_extractor", "partial_finetune", "full_finetune"}
    fe = next(t for t in trials if t.strategy == "feature_extractor")
    assert list(fe.strategy_options["lrs"]) == [1e-2, 1e-3, 1e-4]
    assert fe.training["epochs"] == 50 and fe.protocol["folds"] == 5
    assert paper.name == "ho-kim-2021"


def test_docs_list_every_config_key_with_its_default(repo_root):
    docs = (repo_root / "docs" / "harness.md").read_text(encoding="utf-8")
    assert markdown_key_table() in docs, \
        "docs/harness.md's config key table is stale: paste the output of `python -m harness.config`"
