"""Real-data loaders: Sunnybrook (committed fixture and ../shared), DICOM + label CSV, NIfTI."""
from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from harness.data import load_dataset
from harness.data.dicom import DicomCsvLoader
from harness.data.loading import detect_layout, table_summary
from harness.data.nifti import NiftiLoader
from harness.data.sunnybrook import SunnybrookLoader

FIXTURE = Path(__file__).parent / "fixtures" / "sunnybrook"


def test_sunnybrook_fixture_labels_from_contours():
    ds = SunnybrookLoader(image_size=32).load(FIXTURE)
    assert detect_layout(FIXTURE) == "sunnybrook"
    assert set(ds.table["frame"]) == {"ED", "ES"}
    for frame, t in ds.table.groupby("frame"):
        labels = t.sort_values("slice_index")["label"].tolist()
        # 13 slices: 2 beyond the apex, 9 contoured, 2 beyond the base (checked by eye: the two
        # highest InstanceNumber slices show no LV cavity, the two lowest show the atria)
        assert labels == ["OAP"] * 2 + ["IN"] * 9 + ["OBS"] * 2, frame
        oap_instances = t.loc[t["label"] == "OAP", "instance"]
        assert oap_instances.min() > 200  # the apex is at the high-instance end in this patient
    ev = ds.meta["apex_rule"]["SCD0000201"]
    assert ev["area_low_end_px"] < ev["area_high_end_px"]


def test_sunnybrook_apex_found_by_anatomy_not_file_order(tmp_path):
    """Renumbering the files in reverse slice order must not change any label."""
    copy = tmp_path / "sb"
    shutil.copytree(FIXTURE, copy)
    import pydicom
    ddir = copy / "dicoms" / "SCD0000201"
    base = SunnybrookLoader(image_size=32).load(FIXTURE)
    # mirror the slice positions: the apex now sits at the other end of the normal axis
    for f in ddir.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        o = np.array(ds.ImageOrientationPatient, dtype=float)
        n = np.cross(o[:3], o[3:])
        p = np.array(ds.ImagePositionPatient, dtype=float)
        ds.ImagePositionPatient = list(p - 2 * np.dot(n, p) * n)
        ds.save_as(f)
    flipped = SunnybrookLoader(image_size=32).load(copy)
    key = ["frame", "instance"]
    a = base.table.sort_values(key)[["label", "slice_index"]].to_numpy()
    b = flipped.table.sort_values(key)[["label", "slice_index"]].to_numpy()
    assert (a == b).all()


def test_sunnybrook_all_phases(tmp_path):
    ds = SunnybrookLoader(image_size=32, frames="all").load(FIXTURE)
    assert len(ds) == 26 and ds.table["frame"].nunique() == 2


@pytest.mark.shared
def test_sunnybrook_shared_three_patients(shared_dir):
    root = shared_dir / "data" / "sunnybrook"
    ds = load_dataset(root, image_size=64, use_cache=False)
    s = table_summary(ds.table)
    assert s["patients"]["SCD0000101"] == {"OAP": 2, "IN": 18, "OBS": 4}
    assert s["patients"]["SCD0000201"] == {"OAP": 4, "IN": 18, "OBS": 4}
    assert s["patients"]["SCD0000301"] == {"OAP": 0, "IN": 20, "OBS": 0}
    assert s["slices"] == {"OAP": 3, "IN": 28, "OBS": 4}


@pytest.mark.shared
@pytest.mark.slow
def test_sunnybrook_shared_all_phases(shared_dir):
    ds = SunnybrookLoader(image_size=32, frames="all").load(shared_dir / "data" / "sunnybrook", patients=["SCD0000301"])
    assert len(ds) == 200 and ds.table["frame"].nunique() == 20


def test_dicom_with_label_csv(tmp_path):
    folder = tmp_path / "dcm"
    shutil.copytree(FIXTURE / "dicoms", folder)
    # slice index in the CSV follows position along the normal; the apex is at the low end here
    sb = SunnybrookLoader(image_size=32).load(FIXTURE)
    ed = sb.table[sb.table["frame"] == "ED"]
    rows = [{"patient": "SC-HF-I-2-id", "frame": "ED", "phase": 2, "slice": k, "label": lab}
            for k, lab in zip(ed["slice_index"], ed["label"])]
    import pydicom
    pid = str(pydicom.dcmread(next(folder.rglob("*.dcm"))).PatientID)
    pd.DataFrame(rows).assign(patient=pid).to_csv(folder / "labels.csv", index=False)
    assert detect_layout(folder) == "dicom"
    ds = DicomCsvLoader(image_size=32).load(folder)
    assert len(ds) == 13
    got = ds.table.sort_values("slice_index")["label"].tolist()
    assert got == ed.sort_values("slice_index")["label"].tolist()  # apex renumbered to index 0
    mine = ds.images[np.argsort(ds.table["slice_index"].to_numpy())]
    np.testing.assert_allclose(mine, sb.images[ed.sort_values("slice_index").index.to_numpy()])


def _nifti_case(root: Path, pid: str = "patient001", shape=(20, 24, 8), mask_shape=None, flip=False) -> None:
    """Tiny ACDC-style case: LV cavity (code 3) in slices 2..5 growing towards the base."""
    d = root / pid
    d.mkdir(parents=True)
    (d / "Info.cfg").write_text("ED: 1\nES: 5\nGroup: NOR\n")
    rng = np.random.default_rng(0)
    for n, shrink in ((1, 0), (5, 1)):
        img = rng.normal(100, 10, size=shape).astype(np.float32)
        mask = np.zeros(mask_shape or shape, dtype=np.uint8)
        for k, s in enumerate(range(2, 6)):
            r = 1 + k - shrink * (k > 0)
            mask[10 - r - 1:10 + r + 1, 12 - r - 1:12 + r + 1, s] = 2
            mask[10 - r:10 + r, 12 - r:12 + r, s] = 3
        mask[9:11, 11:13, 1] = 2  # apical myocardial cap, no cavity -> OAP
        if flip:
            img, mask = img[:, :, ::-1], mask[:, :, ::-1]
        aff = np.diag([1.5, 1.5, 10.0, 1.0])
        nib.save(nib.Nifti1Image(img, aff), d / f"{pid}_frame{n:02d}.nii.gz")
        nib.save(nib.Nifti1Image(mask, aff), d / f"{pid}_frame{n:02d}_gt.nii.gz")


@pytest.mark.parametrize("flip", [False, True])
def test_nifti_acdc_labels_from_masks(tmp_path, flip):
    _nifti_case(tmp_path, flip=flip)
    assert detect_layout(tmp_path) == "nifti"
    ds = NiftiLoader(image_size=32).load(tmp_path)
    assert set(ds.table["frame"]) == {"ED", "ES"}
    ed = ds.table[ds.table["frame"] == "ED"].sort_values("slice_index")["label"].tolist()
    assert ed == ["OAP", "OAP", "IN", "IN", "IN", "IN", "OBS", "OBS"]
    assert ds.images.shape[1:] == (32, 32)


def test_nifti_mnm_4d(tmp_path):
    d = tmp_path / "A0S9V9"
    d.mkdir()
    img = np.random.default_rng(1).normal(50, 5, size=(16, 16, 6, 5)).astype(np.float32)
    gt = np.zeros(img.shape, dtype=np.uint8)
    for t, r in ((0, 3), (3, 2)):
        for s in range(1, 5):
            gt[8 - min(r, s):8 + min(r, s), 8 - min(r, s):8 + min(r, s), s, t] = 1  # M&Ms: 1 = LV
    aff = np.diag([1.2, 1.2, 9.0, 1.0])
    nib.save(nib.Nifti1Image(img, aff), d / "A0S9V9_sa.nii.gz")
    nib.save(nib.Nifti1Image(gt, aff), d / "A0S9V9_sa_gt.nii.gz")
    ds = NiftiLoader(image_size=16).load(tmp_path)
    assert sorted(ds.table["frame"].unique()) == ["ED", "ES"]
    assert ds.table.sort_values(["frame", "slice_index"])["label"].tolist()[:6] == ["OAP", "IN", "IN", "IN", "IN", "OBS"]
    allp = NiftiLoader(image_size=16, frames="all").load(tmp_path)
    assert len(allp) == 30


def test_real_folder_cached_and_rebuilt_when_files_change(tmp_path):
    data = tmp_path / "sb"
    shutil.copytree(FIXTURE, data)
    cache = tmp_path / "cache"
    a = load_dataset(data, cache_dir=cache, image_size=32)
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 1
    b = load_dataset(data, cache_dir=cache, image_size=32)
    assert a.fingerprint() == b.fingerprint()
    (data / "contourfiles" / "SC-HF-I-2" / "note.txt").write_text("changed")  # new file -> new key
    load_dataset(data, cache_dir=cache, image_size=32)
    assert len(list(cache.iterdir())) == 2
