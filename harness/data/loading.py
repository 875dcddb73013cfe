"""`load_dataset(spec)`: one entry point for synthetic specs and real-data folders, with a disk cache."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from .dataset import IMAGES_FILE, LABELS, TABLE_FILE, CardiacDataset
from .errors import DataError

LOADER_VERSION = "1"
DEFAULT_PATIENTS = 40


def default_cache_dir() -> Path:
    """$HARNESS_DATA_CACHE, else ~/.cache/tl-medimg/data."""
    env = os.environ.get("HARNESS_DATA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tl-medimg" / "data"


def load_dataset(spec: str | Path, *, cache_dir: str | Path | None = None, image_size: int = 128,
                 frames: str = "ed_es", require_all_classes: bool = True, use_cache: bool = True,
                 progress: bool = False) -> CardiacDataset:
    """Load `spec`: "synthetic[:DOMAIN][?patients=N&seed=S&realism=v2]" or a data folder.

    Folders: a `harness data synth` output / saved dataset (images.npz + table.csv), a Sunnybrook
    layout (dicoms/ + contourfiles/ + link.csv), a NIfTI ACDC/M&Ms layout, or a DICOM folder with a
    labels.csv. Images are resampled to image_size x image_size. Results are cached under cache_dir.
    """
    if frames not in ("ed_es", "all"):
        raise ValueError(f"frames must be 'ed_es' or 'all', got {frames!r}")
    spec_s = str(spec)
    if spec_s.startswith("synthetic"):
        build = lambda: _synthetic(spec_s, image_size, frames, progress)  # noqa: E731
    else:
        path = Path(spec_s).expanduser()
        kind = detect_layout(path)
        if kind == "dataset":  # already the cache format: read directly
            ds = CardiacDataset.load(path)
            ds = resample_dataset(ds, image_size)
            if frames == "ed_es":
                ds = ds.subset(ds.table["frame"].isin(["ED", "ES"]).to_numpy()) if ds.table["frame"].isin(["ED", "ES"]).any() else ds
            return _checked(ds, require_all_classes, path)
        build = lambda: _real(path, kind, image_size, frames, progress)  # noqa: E731
    if not use_cache:
        return _checked(build(), require_all_classes, spec_s)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key_parts = cache_key_parts(spec_s, image_size, frames)
    key = cache_key(key_parts)
    target = root / key
    if (target / IMAGES_FILE).is_file() and (target / TABLE_FILE).is_file():
        try:
            return _checked(CardiacDataset.load(target), require_all_classes, spec_s)
        except DataError:
            shutil.rmtree(target, ignore_errors=True)  # corrupt cache entry: rebuild
    ds = build()
    ds.meta["cache_key"] = key_parts
    _save_atomically(ds, root, target)
    # return what the cache holds (float16 rounding included), so first and later loads are identical
    return _checked(CardiacDataset.load(target), require_all_classes, spec_s)


def cache_key_parts(spec: str, image_size: int, frames: str) -> dict:
    """What a cached dataset depends on: the spec (a folder: its path, layout and files' stamp), size, frames."""
    if spec.startswith("synthetic"):
        parts = {"spec": _normal_synth_spec(spec), "size": image_size, "frames": frames}
    else:
        path = Path(spec).expanduser()
        parts = {"path": str(path.resolve()), "kind": detect_layout(path), "size": image_size, "frames": frames,
                 "stamp": _folder_stamp(path)}
    return {**parts, "loader": LOADER_VERSION}


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def cached_table(spec: str, *, cache_dir: str | Path | None, image_size: int, frames: str) -> pd.DataFrame | None:
    """The table of `spec` from the dataset cache, when `load_dataset` has already built it (else None).

    Reads table.csv only (no images), for planning."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / cache_key(cache_key_parts(spec, image_size, frames))
    if not ((target / IMAGES_FILE).is_file() and (target / TABLE_FILE).is_file()):
        return None
    try:
        return pd.read_csv(target / TABLE_FILE, dtype={"patient": str, "frame": str})
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def detect_layout(path: Path) -> str:
    """Name the layout of a folder: dataset | sunnybrook | nifti | dicom.

    Raises DataError naming the folder when it is missing, not a folder, unreadable or empty."""
    if not path.exists():
        raise DataError(path, "does not exist", "give 'synthetic', 'synthetic:7T', or a data folder (see docs/data.md)")
    if not path.is_dir():
        raise DataError(path, "is a file, not a data folder",
                        "give a folder (synth output, Sunnybrook, NIfTI, DICOM + labels.csv) or a 'synthetic:...' spec")
    try:
        entries = list(path.iterdir())
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc})", "check its permissions") from None
    if not entries:
        raise DataError(path, "is an empty folder", "point data.spec at a folder with images (see docs/data.md)")
    if path.is_dir():
        if (path / IMAGES_FILE).is_file() and (path / TABLE_FILE).is_file():
            return "dataset"
        if (path / "dicoms").is_dir() and (path / "contourfiles").is_dir():
            return "sunnybrook"
        if any(path.rglob("*.nii.gz")) or any(path.rglob("*.nii")):
            return "nifti"
        if any(path.rglob("*.csv")):
            return "dicom"
    raise DataError(path, "is not a recognised data folder",
                    "expected a synth output (images.npz + table.csv), a Sunnybrook folder (dicoms/, "
                    "contourfiles/, link.csv), NIfTI files, or DICOM files with a labels CSV")


# ---------------------------------------------------------------------- builders
def _normal_synth_spec(spec: str) -> str:
    domain, params = parse_synthetic_spec(spec)
    return f"synthetic:{domain}?" + "&".join(f"{k}={params[k]}" for k in sorted(params))


def parse_synthetic_spec(spec: str) -> tuple[str, dict]:
    """'synthetic:7T?patients=40&seed=3' -> ('7T', {'patients': 40, 'seed': 3, 'realism': 'v2'})."""
    head, _, query = spec.partition("?")
    _, _, domain = head.partition(":")
    from .domains import get_preset
    try:
        domain = get_preset(domain or "1.5T").name
    except KeyError as exc:
        raise DataError(None, f"synthetic spec {spec!r}: {exc.args[0]}") from exc
    params: dict = {"patients": DEFAULT_PATIENTS, "seed": 0, "realism": "v2"}
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k not in params:
            raise DataError(None, f"synthetic spec {spec!r}: unknown parameter {k!r}",
                            f"known: {sorted(params)}")
        try:
            params[k] = int(v) if k in ("patients", "seed") else v
        except ValueError as exc:
            raise DataError(None, f"synthetic spec {spec!r}: {k} must be an integer, got {v!r}") from exc
    if params["realism"] not in ("v1", "v2"):
        raise DataError(None, f"synthetic spec {spec!r}: realism must be v1 or v2")
    return domain, params


def _synthetic(spec: str, image_size: int, frames: str, progress: bool) -> CardiacDataset:
    from .synth import SyntheticGenerator
    domain, params = parse_synthetic_spec(spec)
    gen = SyntheticGenerator(domain=domain, image_size=image_size, frames=frames, realism=params["realism"])
    return gen.generate(params["patients"], params["seed"], progress=progress)


def _real(path: Path, kind: str, image_size: int, frames: str, progress: bool) -> CardiacDataset:
    if kind == "sunnybrook":
        from .sunnybrook import SunnybrookLoader
        return SunnybrookLoader(image_size=image_size, frames=frames).load(path, progress=progress)
    if kind == "nifti":
        from .nifti import NiftiLoader
        return NiftiLoader(image_size=image_size, frames=frames).load(path, progress=progress)
    from .dicom import DicomCsvLoader
    return DicomCsvLoader(image_size=image_size).load(path, progress=progress)


# ---------------------------------------------------------------------- helpers
def to_square(image: np.ndarray, spacing_rc: tuple[float, float], size: int) -> tuple[np.ndarray, float]:
    """Resample one image to isotropic pixels, zero-pad to a square, then zoom to size x size."""
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float32)
    sr, sc = float(spacing_rc[0]), float(spacing_rc[1])
    if abs(sr - sc) > 1e-3 * max(sr, sc):
        s = min(sr, sc)
        img = ndimage.zoom(img, (sr / s, sc / s), order=1)
        sr = sc = s
    h, w = img.shape
    m = max(h, w)
    if h != w:
        pad = np.zeros((m, m), dtype=np.float32)
        r0, c0 = (m - h) // 2, (m - w) // 2
        pad[r0:r0 + h, c0:c0 + w] = img
        img = pad
    if m != size:
        img = ndimage.zoom(img, size / m, order=1, grid_mode=True, mode="nearest")
    return img.astype(np.float32), sr * m / size


def resample_dataset(ds: CardiacDataset, size: int) -> CardiacDataset:
    if ds.images.shape[1:] == (size, size):
        return ds
    from scipy import ndimage

    h = ds.images.shape[1]
    imgs = ndimage.zoom(ds.images, (1, size / h, size / ds.images.shape[2]), order=1, grid_mode=True, mode="nearest")
    table = ds.table.copy()
    table["pixel_spacing"] = table["pixel_spacing"] * max(ds.images.shape[1:]) / size
    return CardiacDataset(imgs.astype(np.float32), table, name=ds.name, meta=ds.meta)


def _checked(ds: CardiacDataset, require_all: bool, where) -> CardiacDataset:
    if require_all:
        present = set(ds.table["label"])
        empty = [lab for lab in LABELS if lab not in present]
        if empty:
            raise DataError(where, f"no images of class {', '.join(empty)} in {ds.patients()[:5]}"
                            f"{'...' if len(ds.patients()) > 5 else ''}",
                            "a 3-class benchmark needs every class; add patients whose stacks cover the "
                            "apex and the base, or pass require_all_classes=False to only inspect")
    return ds


def _folder_stamp(path: Path) -> str:
    """Names, sizes and mtimes of the files: the cache is rebuilt when the data change."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(path)}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _save_atomically(ds: CardiacDataset, root: Path, target: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
    try:
        ds.save(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first; its copy is identical
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def table_summary(table: pd.DataFrame) -> dict:
    """Counts for `harness data inspect`: images and slice locations per class, per patient and frame."""
    def by_label(t: pd.DataFrame) -> dict:
        vc = t["label"].value_counts()
        return {lab: int(vc.get(lab, 0)) for lab in LABELS}

    # a slice location counts once per patient, under its ED label (first frame when no ED)
    order = table.assign(_ed=(table["frame"] != "ED").astype(int)).sort_values(["patient", "slice_index", "_ed", "frame"])
    slices = order.drop_duplicates(["patient", "slice_index"])
    return {
        "images": by_label(table),
        "slices": by_label(slices),
        "patients": {p: by_label(t) for p, t in table.groupby("patient", sort=True)},
        "frames": {f: by_label(t) for f, t in table.groupby("frame", sort=True)},
        "n_patients": int(table["patient"].nunique()),
        "n_images": int(len(table)),
    }
