"""Bad input: each case gets a DataError that names the file and says what is wrong."""
from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest

from harness.data import CardiacDataset, DataError, load_dataset
from harness.data.dicom import DicomCsvLoader
from harness.data.nifti import NiftiLoader
from harness.data.sunnybrook import SunnybrookLoader

FIXTURE = Path(__file__).parent / "fixtures" / "sunnybrook"
PID = "SCD0000201"


@pytest.fixture
def sb(tmp_path) -> Path:
    dst = tmp_path / "sb"
    shutil.copytree(FIXTURE, dst)
    return dst


def _load(root):
    return SunnybrookLoader(image_size=16).load(root)


def test_unreadable_dicom(sb):
    bad = sb / "dicoms" / PID / "999.dcm"
    bad.write_bytes(b"this is not a dicom file at all" * 10)
    with pytest.raises(DataError, match="999.dcm.*not a readable DICOM"):
        _load(sb)


def test_non_image_dicom(sb):
    src = next((sb / "dicoms" / PID).glob("*.dcm"))
    ds = pydicom.dcmread(src)
    del ds.PixelData
    ds.save_as(sb / "dicoms" / PID / "998.dcm")
    with pytest.raises(DataError, match="998.dcm.*no image data"):
        _load(sb)


def test_mixed_orientation(sb):
    f = sb / "dicoms" / PID / "100.dcm"
    ds = pydicom.dcmread(f)
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.save_as(f)
    with pytest.raises(DataError, match="100.dcm.*orientation.*differs"):
        _load(sb)


def test_missing_slice(sb):
    # slice 6 of 13 (instances 121..140 in the original): remove both of its phases
    for n in (127, 140):
        (sb / "dicoms" / PID / f"{n}.dcm").unlink()
        for c in (sb / "contourfiles").rglob(f"IM-0001-{n:04d}-*"):
            c.unlink()
    with pytest.raises(DataError, match="missing slice: gap"):
        _load(sb)


def test_missing_phase_image(sb):
    (sb / "dicoms" / PID / "20.dcm").unlink()
    with pytest.raises(DataError, match="missing or extra phase images"):
        _load(sb)


def test_contour_points_at_missing_image(sb):
    src = next((sb / "contourfiles").rglob("*icontour-manual.txt"))
    stray = src.with_name("IM-0001-0555-icontour-manual.txt")
    shutil.copy(src, stray)
    with pytest.raises(DataError, match="IM-0001-0555.*points at image 555.*555.dcm does not exist"):
        _load(sb)


def test_bad_contour_line(sb):
    f = next((sb / "contourfiles").rglob("*icontour-manual.txt"))
    f.write_text(f.read_text() + "12.0 oops\n")
    with pytest.raises(DataError, match=f"{f.name}.*line \\d+"):
        _load(sb)


def test_nifti_shape_mismatch(tmp_path):
    d = tmp_path / "patient007"
    d.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((10, 10, 4), np.float32), np.eye(4)), d / "patient007_frame01.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((10, 12, 4), np.uint8), np.eye(4)), d / "patient007_frame01_gt.nii.gz")
    with pytest.raises(DataError, match="patient007_frame01_gt.nii.gz.*shape \\(10, 12, 4\\).*\\(10, 10, 4\\)"):
        NiftiLoader(image_size=16).load(tmp_path)


def test_empty_class(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"patient": "p1", "frame": "ED", "slice_index": range(3), "slice_position": [0.0, 8, 16],
                          "label": "IN", "source": "dicom", "domain": "x", "pixel_spacing": 1.0})
    CardiacDataset(rng.random((3, 8, 8)), table).save(tmp_path / "d")
    with pytest.raises(DataError, match="no images of class OAP, OBS"):
        load_dataset(tmp_path / "d", image_size=8)
    assert len(load_dataset(tmp_path / "d", image_size=8, require_all_classes=False)) == 3


def test_label_csv_bad_row(tmp_path):
    folder = tmp_path / "dcm"
    shutil.copytree(FIXTURE / "dicoms", folder)
    pid = str(pydicom.dcmread(next(folder.rglob("*.dcm"))).PatientID)
    pd.DataFrame([{"patient": pid, "frame": 1, "slice": 0, "label": "IN"},
                  {"patient": pid, "frame": 1, "slice": 1, "label": "MID"}]).to_csv(folder / "labels.csv", index=False)
    with pytest.raises(DataError, match="labels.csv: row 3: field 'label' is 'MID'"):
        DicomCsvLoader(image_size=16).load(folder)
    pd.DataFrame([{"patient": pid, "frame": 1, "slice": 40, "label": "IN"}]).to_csv(folder / "labels.csv", index=False)
    with pytest.raises(DataError, match="row 2: field 'slice' is 40"):
        DicomCsvLoader(image_size=16).load(folder)


def test_cli_reports_error_without_traceback(tmp_path, capsys):
    from harness.cli import main
    assert main(["data", "inspect", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err
