"""The one definition of the sweep defaults: the Ho & Kim (2021) protocol, section by section.

`harness.config` merges a YAML file over these; the strategies read only merged settings
(no second set of defaults anywhere). Sources: docs/harness.md, "Protocol: paper vs preset".
"""
from __future__ import annotations

DEFAULTS: dict = {
    "data": {"spec": "synthetic", "image_size": 128, "frames": "ed_es", "test_fraction": 0.5, "split_seed": 0},
    # crop_fraction: a central crop before augmentation (0 = none). The authors' code crops "the outer
    # 40 %" with augmentation.zoom = 0.6 after the rotation instead; setting both would crop twice.
    "preprocessing": {"crop_fraction": 0.0, "percentiles": [2.0, 98.0]},
    # rotation: degrees (0 = no augmentation); zoom: fixed central zoom after rotation, every image;
    # copies: size of the pre-rotated bank that cached frozen features are computed for.
    "augmentation": {"rotation": 45.0, "zoom": 0.6, "copies": 5},
    "training": {"epochs": 50, "batch_size": 32, "batch_size_per_backbone": {}, "momentum": 0.9, "nesterov": True,
                 "decay": 1e-6, "select_on": "val_accuracy", "oversample": {"OAP": 6, "IN": 1, "OBS": 6},
                 "batchnorm": "train", "precision": "auto"},
    "protocol": {"folds": 5},
    "strategies": {
        "feature_extractor": {"lrs": [1e-2, 1e-3, 1e-4]},
        "partial_finetune": {"lrs": [1e-3, 1e-4, 1e-5], "head_lrs": [1e-2, 1e-3, 1e-4], "depth": 1},
        "full_finetune": {"lrs": [1e-2, 1e-3, 1e-4]},
        "hybrid": {"svm": {"C": [1.0, 10.0], "kernel": ["rbf"]}, "rf": {"n_estimators": [200], "max_depth": [None]}},
    },
}
SOURCE_DEFAULTS: dict = {"epochs": 10, "lr": 1e-2}

SELECT_ON = ("val_accuracy", "val_loss")
BATCHNORM = ("train", "frozen")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
