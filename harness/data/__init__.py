"""Cardiac short-axis slice-range data: synthetic default, real loaders, splits and preprocessing."""
from .dataset import LABELS, CardiacDataset
from .errors import DataError
from .preprocess import Preprocessing, oversample_indices, rotate_batch
from .splits import patient_kfold, train_test_patients
from .loading import load_dataset

__all__ = ["LABELS", "CardiacDataset", "DataError", "Preprocessing", "oversample_indices", "rotate_batch",
           "patient_kfold", "train_test_patients", "load_dataset"]
