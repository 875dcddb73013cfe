"""DICOM reading with checks, and the generic DICOM-series + label-CSV loader.

Label CSV (what a labelling tool such as Ho & Kim's writes), one row per labelled image:

    patient,frame,slice,label[,phase]

- patient: the DICOM PatientID (or the name of the patient's sub-folder when PatientID is empty);
- frame: a 1-based cardiac phase number, "phaseNN", or a name such as ED/ES together with a
  `phase` column giving its 1-based phase number (phases are ordered by TriggerTime per slice);
- slice: 0-based slice number in order of position along the slice normal;
- label: OAP, IN or OBS.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError
from tqdm.auto import tqdm

from .dataset import LABELS, CardiacDataset
from .errors import DataError


@dataclass
class DicomImage:
    """Header facts of one image file (pixels read on demand)."""

    path: Path
    patient: str
    instance: int
    position: float          # mm along the slice normal
    orientation: tuple[float, ...]
    trigger_time: float
    spacing: tuple[float, float]

    def pixels(self) -> np.ndarray:
        ds = read_dicom(self.path, pixels=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            arr = ds.pixel_array.astype(np.float32)
        slope, inter = float(getattr(ds, "RescaleSlope", 1) or 1), float(getattr(ds, "RescaleIntercept", 0) or 0)
        return arr * slope + inter


def read_dicom(path: Path, pixels: bool = False):
    try:
        with warnings.catch_warnings():  # vendor UIDs with leading zeros are common and harmless
            warnings.simplefilter("ignore", UserWarning)
            ds = pydicom.dcmread(str(path)) if pixels else pydicom.dcmread(str(path), defer_size="2 KB")
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError) as exc:
        raise DataError(path, f"not a readable DICOM file ({type(exc).__name__}: {exc})",
                        "remove or replace the file") from exc
    if pixels and "PixelData" not in ds:
        raise DataError(path, f"DICOM has no image data (SOP class {getattr(ds, 'SOPClassUID', 'unknown')})",
                        "remove non-image files such as reports or structured sets from the folder")
    return ds


def header(path: Path, patient: str | None = None) -> DicomImage:
    ds = read_dicom(path)
    if "PixelData" not in ds:
        raise DataError(path, f"DICOM has no image data (SOP class {getattr(ds, 'SOPClassUID', 'unknown')})",
                        "remove non-image files such as reports or structured sets from the folder")
    for tag in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing"):
        if tag not in ds:
            raise DataError(path, f"DICOM lacks {tag}, so its slice position is unknown",
                            "export the series with full geometry")
    o = tuple(float(v) for v in ds.ImageOrientationPatient)
    normal = np.cross(o[:3], o[3:])
    pos = float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient]))
    pid = patient or str(getattr(ds, "PatientID", "") or path.parent.name)
    return DicomImage(path=Path(path), patient=pid, instance=int(getattr(ds, "InstanceNumber", 0) or 0),
                      position=pos, orientation=o, trigger_time=float(getattr(ds, "TriggerTime", 0) or 0),
                      spacing=(float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1])))


@dataclass
class Series:
    """Images of one patient arranged as slices (by position) x phases (by trigger time)."""

    patient: str
    positions: np.ndarray            # (S,) mm along the normal, ascending
    grid: list[list[DicomImage]]     # grid[s][phase]

    @property
    def n_phases(self) -> int:
        return len(self.grid[0])


def organise(images: list[DicomImage], where: Path, tol_mm: float = 0.5) -> Series:
    """Group one patient's images into slices and phases; refuse mixed orientations and missing slices."""
    keys = [tuple(np.round(im.orientation, 3)) for im in images]
    common = max(set(keys), key=keys.count)
    ref = images[keys.index(common)]
    for im, k in zip(images, keys):
        if k != common:
            raise DataError(im.path, f"orientation {np.round(im.orientation, 4).tolist()} differs from the "
                            f"series' {np.round(ref.orientation, 4).tolist()} (e.g. {ref.path.name})",
                            "keep one short-axis stack per patient folder")
    order = sorted(images, key=lambda im: im.position)
    groups: list[list[DicomImage]] = [[order[0]]]
    for im in order[1:]:
        if abs(im.position - groups[-1][0].position) <= tol_mm:
            groups[-1].append(im)
        else:
            groups.append([im])
    counts = [len(g) for g in groups]
    if len(set(counts)) > 1:
        common = max(set(counts), key=counts.count)
        bad = next(g for g in groups if len(g) != common)
        raise DataError(bad[0].path.parent, f"slice at {bad[0].position:.1f} mm has {len(bad)} images, others "
                        f"have {common}: missing or extra phase images (e.g. {bad[0].path.name})",
                        "restore the missing files or remove the incomplete slice")
    pos = np.array([g[0].position for g in groups])
    if len(pos) > 2:
        gaps = np.diff(pos)
        med = float(np.median(gaps))
        big = np.flatnonzero(gaps > 1.5 * med)
        if len(big):
            i = int(big[0])
            raise DataError(groups[i + 1][0].path.parent,
                            f"missing slice: gap of {gaps[i]:.1f} mm between {pos[i]:.1f} mm ({groups[i][0].path.name}) "
                            f"and {pos[i + 1]:.1f} mm ({groups[i + 1][0].path.name}); usual spacing {med:.1f} mm",
                            "restore the missing slice files")
    grid = [sorted(g, key=lambda im: (im.trigger_time, im.instance)) for g in groups]
    return Series(patient=ref.patient, positions=pos, grid=grid)


def scan_folder(folder: Path, progress: bool = False) -> dict[str, list[DicomImage]]:
    """All DICOM images under folder by patient (files ending .dcm, or without a suffix)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and (p.suffix.lower() in (".dcm", ".ima", "")))
    by_patient: dict[str, list[DicomImage]] = {}
    for f in tqdm(files, desc="DICOM headers", disable=not progress, leave=False):
        im = header(f)
        by_patient.setdefault(im.patient, []).append(im)
    if not by_patient:
        raise DataError(folder, "contains no DICOM files (*.dcm)")
    return by_patient


class DicomCsvLoader:
    """DICOM series + label CSV -> CardiacDataset (only the labelled images)."""

    def __init__(self, image_size: int = 128, labels_csv: str | None = None):
        self.image_size = image_size
        self.labels_csv = labels_csv

    def load(self, folder: str | Path, progress: bool = False) -> CardiacDataset:
        from .loading import to_square
        folder = Path(folder)
        csv = self._find_csv(folder)
        labels = read_label_csv(csv)
        series = {p: organise(ims, folder) for p, ims in scan_folder(folder, progress).items()}
        images, rows = [], []
        for i, r in labels.iterrows():
            row_no = i + 2  # header is line 1
            s = series.get(r["patient"])
            if s is None:
                raise DataError(csv, f"row {row_no}: field 'patient' is {r['patient']!r}, which has no DICOM images",
                                f"known patients: {sorted(series)[:10]}")
            if not 0 <= r["slice"] < len(s.grid):
                raise DataError(csv, f"row {row_no}: field 'slice' is {r['slice']}, but patient {r['patient']} has "
                                f"{len(s.grid)} slices (0..{len(s.grid) - 1})")
            if not 1 <= r["phase"] <= s.n_phases:
                raise DataError(csv, f"row {row_no}: field 'frame' gives phase {r['phase']}, but patient "
                                f"{r['patient']} has {s.n_phases} phases")
            im = s.grid[r["slice"]][r["phase"] - 1]
            img, ps = to_square(im.pixels(), im.spacing, self.image_size)
            images.append(img)
            rows.append({"patient": r["patient"], "frame": r["frame_name"], "slice_index": int(r["slice"]),
                         "slice_position": float(s.positions[r["slice"]] - s.positions[0]), "label": r["label"],
                         "source": "dicom", "domain": "dicom", "pixel_spacing": ps, "file": str(im.path)})
        table = orient_apex_first(pd.DataFrame(rows))
        return CardiacDataset(np.stack(images), table, name=f"dicom-{folder.name}")

    def _find_csv(self, folder: Path) -> Path:
        if self.labels_csv:
            return Path(self.labels_csv)
        csvs = sorted(folder.rglob("*.csv"))
        if len(csvs) != 1:
            raise DataError(folder, f"expected one label CSV, found {len(csvs)}",
                            "keep exactly one labels.csv (patient,frame,slice,label) in the folder")
        return csvs[0]


def read_label_csv(csv: Path) -> pd.DataFrame:
    try:
        t = pd.read_csv(csv, dtype=str, skipinitialspace=True)
    except Exception as exc:
        raise DataError(csv, f"unreadable CSV ({exc})") from exc
    missing = [c for c in ("patient", "frame", "slice", "label") if c not in t.columns]
    if missing:
        raise DataError(csv, f"missing column(s) {missing}", "header must be patient,frame,slice,label[,phase]")
    out = []
    for i, r in t.iterrows():
        row_no = i + 2
        label = str(r["label"]).strip().upper()
        if label not in LABELS:
            raise DataError(csv, f"row {row_no}: field 'label' is {r['label']!r}", f"use one of {', '.join(LABELS)}")
        try:
            sl = int(str(r["slice"]).strip())
        except ValueError:
            raise DataError(csv, f"row {row_no}: field 'slice' is {r['slice']!r}, not an integer") from None
        frame = str(r["frame"]).strip()
        phase_txt = str(r.get("phase", "")).strip() if "phase" in t.columns else ""
        digits = frame[5:] if frame.lower().startswith("phase") else frame
        try:
            phase = int(phase_txt) if phase_txt and phase_txt.lower() != "nan" else int(digits)
        except ValueError:
            raise DataError(csv, f"row {row_no}: field 'frame' is {frame!r} without a phase number",
                            "give a 1-based phase number, 'phaseNN', or add a 'phase' column") from None
        name = frame if not frame.isdigit() else f"phase{phase:02d}"
        out.append({"patient": str(r["patient"]).strip(), "frame_name": name, "phase": phase, "slice": sl, "label": label})
    return pd.DataFrame(out)


def orient_apex_first(table: pd.DataFrame) -> pd.DataFrame:
    """Renumber slices so 0 is apical: per patient, flip when OAP lies above OBS (or OAP at the top)."""
    t = table.copy()
    for pid, g in t.groupby("patient"):
        mid = (g["slice_index"].max()) / 2
        oap = g.loc[g["label"] == "OAP", "slice_index"]
        obs = g.loc[g["label"] == "OBS", "slice_index"]
        flip = (oap.mean() > obs.mean()) if len(oap) and len(obs) else (
            oap.mean() > mid if len(oap) else (obs.mean() < mid if len(obs) else False))
        if flip:
            top = g["slice_index"].max()
            t.loc[g.index, "slice_index"] = top - g["slice_index"]
            pmax = g["slice_position"].max()
            t.loc[g.index, "slice_position"] = pmax - g["slice_position"]
    return t
