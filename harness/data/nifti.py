"""NIfTI short-axis volumes with segmentation masks (ACDC / M&Ms layouts); labels from the masks.

- ACDC: <patient>/<patient>_frameNN.nii.gz + <patient>_frameNN_gt.nii.gz (3-D), Info.cfg with
  "ED: n" / "ES: n"; mask codes 1 RV, 2 myocardium, 3 LV cavity.
- M&Ms: <code>/<code>_sa.nii.gz (4-D cine) + <code>_sa_gt.nii.gz (4-D, non-empty at ED and ES);
  mask codes 1 LV cavity, 2 myocardium, 3 RV. ED is the labelled frame with the larger LV volume.

Per labelled frame: slices between the first and last with LV cavity are IN; the end with the
smaller cavity area is apical; slices beyond it OAP, beyond the other end OBS (same rule as the
Sunnybrook loader). frames="all" (4-D cine only) labels every phase from the slice locations
labelled IN in any annotated frame.
"""
from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .dataset import CardiacDataset
from .errors import DataError

ACDC_RE = re.compile(r"^(?P<pid>.+)_frame(?P<n>\d+)\.nii(\.gz)?$")
MNM_RE = re.compile(r"^(?P<pid>.+)_sa\.nii(\.gz)?$")
LV_CODE = {"acdc": 3, "mnm": 1}


def _load(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    try:
        img = nib.load(str(path))
        return np.asarray(img.dataobj), tuple(float(z) for z in img.header.get_zooms())
    except Exception as exc:
        raise DataError(path, f"not a readable NIfTI file ({type(exc).__name__}: {exc})") from exc


def _gt_path(path: Path) -> Path:
    name = path.name.replace(".nii.gz", "_gt.nii.gz") if path.name.endswith(".nii.gz") else path.name.replace(".nii", "_gt.nii")
    return path.with_name(name)


def slice_labels(lv_area: np.ndarray, where: Path) -> tuple[list[str], bool]:
    """Labels per slice (in file order) from LV cavity area per slice; also True if apex is at index 0."""
    on = np.flatnonzero(lv_area > 0)
    if len(on) == 0:
        raise DataError(where, "mask has no LV cavity voxels, so no slice can be labelled",
                        "check the mask codes (lv_label) or remove this frame")
    lo, hi = int(on[0]), int(on[-1])
    k = 2 if len(on) >= 4 else 1
    apex_low = float(lv_area[on[:k]].mean()) < float(lv_area[on[-k:]].mean())
    out = []
    for s in range(len(lv_area)):
        out.append("IN" if lo <= s <= hi else ("OAP" if (s < lo) == apex_low else "OBS"))
    return out, apex_low


class NiftiLoader:
    """Folder of ACDC- or M&Ms-style NIfTI files -> CardiacDataset."""

    def __init__(self, image_size: int = 128, frames: str = "ed_es", lv_label: int | None = None):
        self.image_size = image_size
        self.frames = frames
        self.lv_label = lv_label

    def load(self, root: str | Path, progress: bool = False) -> CardiacDataset:
        root = Path(root)
        acdc = sorted(p for p in root.rglob("*.nii*") if ACDC_RE.match(p.name))
        mnm = sorted(p for p in root.rglob("*.nii*") if MNM_RE.match(p.name))
        if not acdc and not mnm:
            raise DataError(root, "no ACDC (*_frameNN.nii.gz) or M&Ms (*_sa.nii.gz) images found")
        images, rows = [], []
        for path in tqdm(acdc, desc="nifti", disable=not progress, leave=False):
            self._acdc(path, images, rows)
        for path in tqdm(mnm, desc="nifti", disable=not progress, leave=False):
            self._mnm(path, images, rows)
        if not images:
            raise DataError(root, "no image has a matching *_gt mask", "labels come from the masks")
        return CardiacDataset(np.concatenate(images), pd.DataFrame(rows), name=f"nifti-{root.name}")

    def _acdc(self, path: Path, images: list, rows: list) -> None:
        gt = _gt_path(path)
        if not gt.is_file():
            return  # unlabelled frame (e.g. between ED and ES)
        m = ACDC_RE.match(path.name)
        pid, n = m.group("pid"), int(m.group("n"))
        info = _read_info(path.parent / "Info.cfg")
        frame = {info.get("ED"): "ED", info.get("ES"): "ES"}.get(n, f"frame{n:02d}")
        vol, zooms = _load(path)
        mask, _ = _load(gt)
        _same_shape(path, vol, gt, mask)
        self._add(pid, frame, vol, mask == (self.lv_label or LV_CODE["acdc"]), zooms, gt, images, rows)

    def _mnm(self, path: Path, images: list, rows: list) -> None:
        gt = _gt_path(path)
        if not gt.is_file():
            return
        pid = MNM_RE.match(path.name).group("pid")
        vol, zooms = _load(path)
        mask, _ = _load(gt)
        _same_shape(path, vol, gt, mask)
        if vol.ndim == 3:
            vol, mask = vol[..., None], mask[..., None]
        lv = mask == (self.lv_label or LV_CODE["mnm"])
        vols = lv.sum(axis=(0, 1, 2))
        annotated = [int(t) for t in np.argsort(-vols) if vols[t] > 0][:2]
        if not annotated:
            raise DataError(gt, "mask has no LV cavity voxels in any frame", "check the mask codes (lv_label)")
        names = {annotated[0]: "ED"}
        if len(annotated) > 1:
            names[annotated[1]] = "ES"
        if self.frames == "ed_es":
            for t in sorted(names):
                self._add(pid, names[t], vol[..., t], lv[..., t], zooms, gt, images, rows)
            return
        union = lv[..., annotated].any(axis=-1)
        for t in range(vol.shape[-1]):
            self._add(pid, names.get(t, f"phase{t + 1:02d}"), vol[..., t], union, zooms, gt, images, rows)

    def _add(self, pid, frame, vol, lv, zooms, where, images, rows) -> None:
        from .loading import to_square
        labels, apex_low = slice_labels(lv.sum(axis=(0, 1)), where)
        n_s = vol.shape[2]
        order = range(n_s) if apex_low else range(n_s - 1, -1, -1)
        dz = zooms[2] if len(zooms) > 2 else 1.0
        for k, s in enumerate(order):
            img, ps = to_square(np.asarray(vol[:, :, s], dtype=np.float32).T, (zooms[1], zooms[0]), self.image_size)
            images.append(img[None])
            rows.append({"patient": pid, "frame": frame, "slice_index": k, "slice_position": round(k * dz, 3),
                         "label": labels[s], "source": "nifti", "domain": "nifti", "pixel_spacing": ps,
                         "file": str(where)})


def _same_shape(img_path: Path, vol: np.ndarray, gt_path: Path, mask: np.ndarray) -> None:
    if vol.shape != mask.shape:
        raise DataError(gt_path, f"mask shape {mask.shape} does not match image {img_path.name} shape {vol.shape}",
                        "the mask must be on the image's voxel grid")


def _read_info(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("ED", "ES"):
                try:
                    out[k.strip()] = int(v.strip())
                except ValueError:
                    raise DataError(path, f"field {k.strip()!r} is {v.strip()!r}, not a frame number") from None
    return out
