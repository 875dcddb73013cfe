"""Cardiac short-axis slice-range data: synthetic default, real loaders, splits and preprocessing.

Names are imported on first use (PEP 562), so `harness.data.errors` or the manifest do not
pull in scipy and scikit-learn: a dry run and `harness --help` stay fast."""
from __future__ import annotations

import importlib

_WHERE = {"LABELS": "dataset", "CardiacDataset": "dataset", "DataError": "errors", "Preprocessing": "preprocess",
          "oversample_indices": "preprocess", "rotate_batch": "preprocess", "patient_kfold": "splits",
          "train_test_patients": "splits", "load_dataset": "loading"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
