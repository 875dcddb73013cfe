"""Sunnybrook Cardiac Data (CC0; Radau et al. 2009) with OAP/IN/OBS labels from the expert contours.

Layout: link.csv (patient_id, original_id), dicoms/<patient_id>/<InstanceNumber>.dcm,
contourfiles/<original_id>/{i,o}-contours/IM-0001-<NNNN>-{i,o}contour-manual.txt.

Label rule (docs/data.md):
- ED/ES are the two phases that carry endocardial (i-) contours; ED is the one with the larger
  summed cavity area over the slices contoured in both.
- In a frame, slices between the first and last contoured slice are IN.
- Which end is the apex is read from the anatomy, not the file order: the contoured cavity area
  shrinks towards the apex, so the end of the contoured range whose cavity area (mean of the two
  end slices) is smaller is apical. Uncontoured slices beyond it are OAP, beyond the other end OBS.
- With frames="all", every phase is loaded; a slice location is IN if it is contoured in any
  frame and the sides are those found above.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .dataset import CardiacDataset
from .dicom import header, organise
from .errors import DataError

CONTOUR_RE = re.compile(r"IM-0001-(\d+)-([io])contour-manual\.txt$")


def read_contour(path: Path) -> np.ndarray:
    """(K, 2) array of x y pixel coordinates."""
    pts = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError
            pts.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise DataError(path, f"line {n}: expected two numbers 'x y', got {line.strip()!r}") from None
    if len(pts) < 3:
        raise DataError(path, f"contour has {len(pts)} points; at least 3 are needed")
    return np.asarray(pts)


def polygon_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


class SunnybrookLoader:
    """Sunnybrook folder -> CardiacDataset; ED/ES by default, all 20 phases with frames='all'."""

    def __init__(self, image_size: int = 128, frames: str = "ed_es"):
        if frames not in ("ed_es", "all"):
            raise ValueError(f"frames must be 'ed_es' or 'all', got {frames!r}")
        self.image_size = image_size
        self.frames = frames

    def load(self, root: str | Path, patients: list[str] | None = None, progress: bool = False) -> CardiacDataset:
        root = Path(root)
        link = read_link(root)
        if patients is not None:
            link = link[link["patient_id"].isin(patients)]
        images, tables, evidence = [], [], {}
        for pid, orig in tqdm(list(zip(link["patient_id"], link["original_id"])), desc="sunnybrook",
                              disable=not progress, leave=False):
            img, tab, ev = self._patient(root, pid, orig)
            images.append(img)
            tables.append(tab)
            evidence[pid] = ev
        if not images:
            raise DataError(root / "link.csv", "lists no patients that are present")
        return CardiacDataset(np.concatenate(images), pd.concat(tables, ignore_index=True),
                              name=f"sunnybrook-{len(images)}p-{self.frames}",
                              meta={"apex_rule": evidence, "frames": self.frames})

    def _patient(self, root: Path, pid: str, orig: str):
        from .loading import to_square
        ddir = root / "dicoms" / pid
        files = sorted(ddir.glob("*.dcm"))
        if not files:
            raise DataError(ddir, "has no .dcm files", "check link.csv and the dicoms/ folder")
        series = organise([header(f, patient=pid) for f in files], ddir)
        where = {im.instance: (s, ph) for s, row in enumerate(series.grid) for ph, im in enumerate(row)}
        areas = self._contour_areas(root / "contourfiles" / orig, where, ddir)
        if not areas:
            raise DataError(root / "contourfiles" / orig, "has no i-contour files", "every patient needs contours")
        by_phase: dict[int, dict[int, float]] = {}
        for (s, ph), a in areas.items():
            by_phase.setdefault(ph, {})[s] = a
        phases = sorted(by_phase, key=lambda ph: (-len(by_phase[ph]), ph))[:2]
        if len(phases) == 2:
            common = set(by_phase[phases[0]]) & set(by_phase[phases[1]])
            tot = [sum(by_phase[ph][s] for s in common) for ph in phases]
            ed, es = (phases[0], phases[1]) if tot[0] >= tot[1] else (phases[1], phases[0])
            named = {ed: "ED", es: "ES"}
        else:
            named = {phases[0]: "ED"}
        contoured_any = sorted({s for d in by_phase.values() for s in d})
        apex_low, ev = _apex_side(by_phase, contoured_any, series.positions)
        n_s = len(series.grid)
        idx = np.arange(n_s) if apex_low else np.arange(n_s)[::-1]   # idx[k] = series slice at apical rank k
        pos = series.positions[idx]
        position_mm = np.abs(pos - pos[0])
        frame_list = sorted(named) if self.frames == "ed_es" else list(range(series.n_phases))
        imgs, rows = [], []
        for ph in frame_list:
            cont = sorted(by_phase[ph]) if ph in by_phase else contoured_any
            lo, hi = min(cont), max(cont)
            for k, s in enumerate(idx):
                label = "IN" if lo <= s <= hi else ("OAP" if (s < lo) == apex_low else "OBS")
                im = series.grid[s][ph]
                img, ps = to_square(im.pixels(), im.spacing, self.image_size)
                imgs.append(img)
                rows.append({"patient": pid, "frame": named.get(ph, f"phase{ph + 1:02d}"), "slice_index": k,
                             "slice_position": round(float(position_mm[k]), 3), "label": label,
                             "source": "sunnybrook", "domain": "sunnybrook", "pixel_spacing": ps,
                             "phase": ph + 1, "instance": im.instance})
        ev.update({"ED_phase": next((p + 1 for p, n in named.items() if n == "ED"), None),
                   "ES_phase": next((p + 1 for p, n in named.items() if n == "ES"), None)})
        return np.stack(imgs), pd.DataFrame(rows), ev

    @staticmethod
    def _contour_areas(cdir: Path, where: dict, ddir: Path) -> dict[tuple[int, int], float]:
        """Endocardial area (pixels^2) per (slice, phase); a contour must point at an existing image."""
        if not cdir.is_dir():
            raise DataError(cdir, "contour folder is missing", "check link.csv original_id")
        out = {}
        for f in sorted(cdir.glob("*-contours/*.txt")):
            m = CONTOUR_RE.search(f.name)
            if not m:
                continue
            inst = int(m.group(1))
            if inst not in where:
                raise DataError(f, f"contour points at image {inst}, but {ddir / f'{inst}.dcm'} does not exist",
                                "restore the DICOM file or delete the stray contour")
            pts = read_contour(f)
            if m.group(2) == "i":
                out[where[inst]] = polygon_area(pts)
        return out


def _apex_side(by_phase: dict, contoured: list[int], positions: np.ndarray) -> tuple[bool, dict]:
    """True when the apex is at the low-index end (smaller cavity area there)."""
    mean_area = {s: float(np.mean([d[s] for d in by_phase.values() if s in d])) for s in contoured}
    if len(contoured) < 2:
        raise DataError(None, "only one contoured slice: cannot tell apex from base",
                        "label this patient with a label CSV instead")
    k = 2 if len(contoured) >= 4 else 1
    low = float(np.mean([mean_area[s] for s in contoured[:k]]))
    high = float(np.mean([mean_area[s] for s in contoured[-k:]]))
    return low < high, {"area_low_end_px": round(low, 1), "area_high_end_px": round(high, 1),
                        "apex_at": "low" if low < high else "high",
                        "position_low_mm": round(float(positions[contoured[0]]), 2),
                        "position_high_mm": round(float(positions[contoured[-1]]), 2)}


def read_link(root: Path) -> pd.DataFrame:
    f = root / "link.csv"
    if not f.is_file():
        raise DataError(f, "missing", "a Sunnybrook folder has link.csv mapping patient_id to original_id")
    t = pd.read_csv(f, dtype=str)
    for col in ("patient_id", "original_id"):
        if col not in t.columns:
            raise DataError(f, f"missing column {col!r}", "header must be patient_id,original_id")
    return t
