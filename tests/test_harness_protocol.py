"""The Ho & Kim protocol settings: folds of equal patient counts, per-backbone batch size, new keys."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from harness.config import ConfigError, load_config, validate
from harness.protocol import make_folds, patient_folds
from harness.strategies import TrainSettings

GOOD = {"name": "t", "grid": [{"backbone": ["MobileNetV1-0.25"], "strategy": ["feature_extractor"]}]}


def test_one_hundred_training_patients_make_five_folds_of_twenty():
    patients = [f"P{i:03d}" for i in range(100)]
    folds = patient_folds(patients, 5, seed=0)
    assert [len(f) for f in folds] == [20] * 5
    assert sorted(p for f in folds for p in f) == patients
    assert folds == patient_folds(patients, 5, seed=0) and folds != patient_folds(patients, 5, seed=1)
    assert [len(f) for f in patient_folds(patients[:11], 5, seed=0)] == [3, 2, 2, 2, 2]


def test_folds_validate_each_patient_once_and_never_train_on_it():
    table = pd.DataFrame({"patient": np.repeat([f"P{i}" for i in range(10)], 4)})
    folds = make_folds(table, table["patient"].unique(), 5, seed=0)
    seen = np.concatenate([va for _, va in folds])
    assert sorted(seen.tolist()) == list(range(40))
    for tr, va in folds:
        assert not set(table["patient"].iloc[tr]) & set(table["patient"].iloc[va])
        assert table["patient"].iloc[va].nunique() == 2


def test_batch_size_per_backbone_overrides_the_batch_size_for_that_backbone_only():
    training = {"batch_size": 32, "batch_size_per_backbone": {"inceptionresnetv2": 8}}
    assert TrainSettings.from_config(training, backbone="InceptionResNetV2").batch_size == 8
    assert TrainSettings.from_config(training, backbone="VGG16").batch_size == 32


def test_the_old_mixed_precision_flag_still_means_mixed_float16():
    assert TrainSettings.from_config({"mixed_precision": True}).precision == "mixed_float16"
    merged = validate({**GOOD, "training": {"mixed_precision": True}}).trials()[0].to_dict()["training"]
    assert TrainSettings.from_config(merged).precision == "mixed_float16"
    assert TrainSettings.from_config({}).precision == "auto"


@pytest.mark.parametrize("section,key,value", [
    ("training", "batchnorm", "sometimes"),
    ("training", "precision", "float8"),
    ("training", "select_on", "val_f1"),
    ("training", "batch_size_per_backbone", {"InceptionResNetV2": 0}),
    ("augmentation", "zoom", 1.6),
    ("augmentation", "rotation", -5),
])
def test_new_protocol_keys_are_checked_before_training(section, key, value):
    raw = copy.deepcopy(GOOD)
    raw[section] = {key: value}
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        validate(raw)


def test_the_ho_kim_preset_is_the_papers_protocol(repo_root):
    """configs/ho-kim-2021.yaml: accuracy selection, 5 folds, the authors' rotation and zoom, batch 8 for IRV2."""
    trials = [t.to_dict() for t in load_config(repo_root / "configs" / "ho-kim-2021.yaml").trials()]
    for s in trials:
        assert s["training"]["select_on"] == "val_accuracy" and s["protocol"]["folds"] == 5
        assert s["training"]["batchnorm"] == "train" and s["training"]["epochs"] == 50
        assert (s["augmentation"]["rotation"], s["augmentation"]["zoom"]) == (45.0, 0.6)
        assert s["preprocessing"]["crop_fraction"] == 0.0            # the authors' crop is the zoom above
        assert s["training"]["batch_size"] == (8 if s["backbone"] == "InceptionResNetV2" else 32)
        assert s["data"]["test_fraction"] == 0.5 and "patients=200" in s["data"]["spec"]
    assert {s["backbone"] for s in trials if s["strategy"] == "partial_finetune"} >= {"InceptionResNetV2", "VGG16"}
