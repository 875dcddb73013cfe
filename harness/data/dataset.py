"""The one in-memory dataset representation shared by every source, and its on-disk cache."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .errors import DataError

LABELS: tuple[str, str, str] = ("OAP", "IN", "OBS")
COLUMNS: tuple[str, ...] = (
    "patient", "frame", "slice_index", "slice_position", "label", "source", "domain", "pixel_spacing",
)
IMAGES_FILE = "images.npz"
TABLE_FILE = "table.csv"
META_FILE = "dataset.json"
FORMAT_VERSION = 1


@dataclass
class CardiacDataset:
    """Short-axis slice images (N, H, W) with a tidy table of N rows (one per image)."""

    images: np.ndarray
    table: pd.DataFrame
    name: str = "dataset"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images, dtype=np.float32)
        if self.images.ndim != 3:
            raise DataError(None, f"dataset {self.name!r}: images must be (N, H, W), got {self.images.shape}")
        missing = [c for c in COLUMNS if c not in self.table.columns]
        if missing:
            raise DataError(None, f"dataset {self.name!r}: table lacks columns {missing}")
        if len(self.table) != len(self.images):
            raise DataError(None, f"dataset {self.name!r}: {len(self.table)} table rows for {len(self.images)} images")
        bad = sorted(set(self.table["label"]) - set(LABELS))
        if bad:
            raise DataError(None, f"dataset {self.name!r}: unknown labels {bad}", f"use one of {LABELS}")
        self.table = _typed(self.table.reset_index(drop=True))

    def __len__(self) -> int:
        return len(self.images)

    @property
    def y(self) -> np.ndarray:
        """Integer class indices in LABELS order."""
        return self.table["label"].map({k: i for i, k in enumerate(LABELS)}).to_numpy(np.int64)

    def patients(self) -> list[str]:
        return sorted(self.table["patient"].unique().tolist())

    def subset(self, mask_or_patients: np.ndarray | Iterable[str]) -> "CardiacDataset":
        """Rows selected by a boolean mask / index array, or by a list of patient ids."""
        sel = mask_or_patients
        if isinstance(sel, pd.Series):
            sel = sel.to_numpy()
        if isinstance(sel, np.ndarray) and sel.dtype == bool:
            idx = np.flatnonzero(sel)
        elif isinstance(sel, np.ndarray) and sel.dtype.kind in "iu":
            idx = sel
        else:
            wanted = [str(p) for p in ([sel] if isinstance(sel, str) else sel)]
            unknown = sorted(set(wanted) - set(self.table["patient"]))
            if unknown:
                raise DataError(None, f"dataset {self.name!r} has no patients {unknown}")
            idx = np.flatnonzero(self.table["patient"].isin(wanted).to_numpy())
        return CardiacDataset(self.images[idx], self.table.iloc[idx].reset_index(drop=True),
                              name=self.name, meta=dict(self.meta))

    def counts(self) -> pd.DataFrame:
        """Images per patient and class (rows: patients, columns: LABELS)."""
        c = pd.crosstab(self.table["patient"], self.table["label"])
        return c.reindex(columns=list(LABELS), fill_value=0)

    def fingerprint(self) -> str:
        """Stable hash of images and table: a cache key for anything computed from the dataset."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.images.astype(np.float32)).tobytes())
        h.update(self.table[list(COLUMNS)].to_csv(index=False, float_format="%.6g").encode())
        return h.hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        """Write a folder: images.npz (uint16 when lossless, else float16, float32 beyond float16's
        range), table.csv, dataset.json."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        ints = np.all(self.images >= 0) and np.all(self.images <= 65535) and np.all(np.mod(self.images, 1) == 0)
        big = float(np.abs(self.images).max(initial=0.0)) > 60000.0   # beyond float16's range
        stored = self.images.astype(np.uint16 if ints else (np.float32 if big else np.float16))
        buf = io.BytesIO()
        np.savez_compressed(buf, images=stored)
        atomic_write_bytes(path / IMAGES_FILE, buf.getvalue())
        atomic_write_bytes(path / TABLE_FILE, self.table.to_csv(index=False).encode())
        meta = {"format": FORMAT_VERSION, "name": self.name, "n_images": len(self), "dtype": str(stored.dtype),
                "shape": list(self.images.shape), "fingerprint": self.fingerprint(), **self.meta}
        atomic_write_bytes(path / META_FILE, json.dumps(meta, indent=2, default=str).encode())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CardiacDataset":
        path = Path(path)
        for f in (IMAGES_FILE, TABLE_FILE):
            if not (path / f).is_file():
                raise DataError(path / f, "missing", "a dataset folder holds images.npz and table.csv")
        try:
            with np.load(path / IMAGES_FILE) as z:
                images = z["images"].astype(np.float32)
        except Exception as exc:  # corrupt or truncated npz
            raise DataError(path / IMAGES_FILE, f"unreadable ({exc})", "delete the folder and regenerate it") from exc
        table = pd.read_csv(path / TABLE_FILE, dtype={"patient": str, "frame": str})
        meta = json.loads((path / META_FILE).read_text()) if (path / META_FILE).is_file() else {}
        name = meta.pop("name", path.name)
        for k in ("format", "n_images", "dtype", "shape", "fingerprint"):
            meta.pop(k, None)
        return cls(images, table, name=name, meta=meta)


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    t = table.copy()
    for c in ("patient", "frame", "label", "source", "domain"):
        t[c] = t[c].astype(str)
    t["slice_index"] = t["slice_index"].astype(int)
    t["slice_position"] = t["slice_position"].astype(float)
    t["pixel_spacing"] = t["pixel_spacing"].astype(float)
    return t


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder and os.replace, so readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def concat(datasets: list[CardiacDataset], name: str) -> CardiacDataset:
    """Stack datasets of one image size."""
    sizes = {d.images.shape[1:] for d in datasets}
    if len(sizes) != 1:
        raise DataError(None, f"cannot combine image sizes {sorted(sizes)}", "resample to one image_size first")
    return CardiacDataset(np.concatenate([d.images for d in datasets]),
                          pd.concat([d.table for d in datasets], ignore_index=True), name=name)
