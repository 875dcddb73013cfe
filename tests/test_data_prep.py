"""Patient-level splits and the Ho & Kim preprocessing option set."""
from __future__ import annotations

import numpy as np
import pytest

from harness.data import Preprocessing, oversample_indices, patient_kfold, rotate_batch, train_test_patients
from harness.data.synth import SyntheticGenerator


@pytest.fixture(scope="module")
def ds():
    return SyntheticGenerator(image_size=32, sub_planes=1).generate(15, seed=1, progress=False)


def test_kfold_is_patient_level_complete_and_deterministic(ds):
    folds = patient_kfold(ds.table, n_splits=5, seed=0)
    assert len(folds) == 5
    seen = []
    for train, test in folds:
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(ds.patients())
        seen += test
    assert sorted(seen) == ds.patients()
    assert folds == patient_kfold(ds.table, n_splits=5, seed=0)
    assert folds != patient_kfold(ds.table, n_splits=5, seed=1)


def test_kfold_stratified(ds):
    overall = ds.table["label"].value_counts(normalize=True)
    for _, test in patient_kfold(ds.table, n_splits=3, seed=0):
        frac = ds.table[ds.table["patient"].isin(test)]["label"].value_counts(normalize=True)
        assert (frac.reindex(overall.index).fillna(0) - overall).abs().max() < 0.15


def test_train_test_patients(ds):
    tr, te = train_test_patients(ds.table, 0.4, seed=0)
    assert not set(tr) & set(te) and len(tr) + len(te) == 15
    assert 4 <= len(te) <= 8
    assert (tr, te) == train_test_patients(ds.table, 0.4, seed=0)


def test_preprocessing_crop_rescale_resize():
    img = np.zeros((1, 100, 100), np.float32)
    img[0, 30:70, 30:70] = 1000.0       # inside the central 60 % kept by the 40 % crop ...
    img[0, :20, :] = 5000.0             # ... the bright outer band is cropped away
    img[0, 50, 50] = 9000.0             # a single hot pixel is clipped by the 98th percentile
    out = Preprocessing(size=30).apply(img)
    assert out.shape == (1, 30, 30, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    assert np.allclose(out[..., 0], out[..., 2])
    assert out[0, 15, 15, 0] == pytest.approx(255.0, abs=1)  # 1000 is the top of the window
    assert out[0, 1, 1, 0] == pytest.approx(0.0, abs=1)
    assert Preprocessing(size=30).key() != Preprocessing(size=31).key()


def test_oversample_and_rotate():
    labels = np.array(["OAP", "IN", "IN", "OBS"])
    idx = oversample_indices(labels, seed=0)
    assert np.bincount(idx, minlength=4).tolist() == [6, 1, 1, 6]
    assert np.array_equal(idx, oversample_indices(labels, seed=0))
    x = np.zeros((2, 21, 21), np.float32)
    x[:, 10, :] = 1.0
    r = rotate_batch(x, 45.0, np.random.default_rng(0))
    assert r.shape == x.shape and not np.allclose(r, x)
    assert np.allclose(rotate_batch(x, 0.0, 0), x)
