"""What a data spec holds, from metadata only: which images (patients, frames, labels), whether
they are already cached, and whether a sweep can run on them at all.

`describe(spec)` never renders, decodes or loads an image: a synthetic spec is planned by the
generator's deterministic draws (`SyntheticGenerator.plan`), a dataset folder is read through
its table.csv, and a raw folder (Sunnybrook, NIfTI, DICOM) through the dataset cache when
`load_dataset` has built it once (otherwise its image count is unknown until then, but its
layout is still checked). `harness sweep` checks every data spec this way before the first
trial, and `--dry-run` counts images with it.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .dataset import IMAGES_FILE, LABELS, TABLE_FILE
from .errors import DataError
from .loading import cached_table, detect_layout, parse_synthetic_spec


@dataclass(frozen=True)
class DataManifest:
    """The images of a data spec without their pixels."""

    spec: str
    table: pd.DataFrame | None      # one row per image (patient, frame, slice_index, label, ...); None: unknown yet
    how: str                        # where the table came from: synthetic plan | table.csv | data cache | unknown
    cached: bool                    # images ready in the data cache (no generation or loading cost)
    patients_to_make: int = 0       # synthetic patients a first load would generate

    @property
    def n_images(self) -> int | None:
        return None if self.table is None else len(self.table)


def describe(spec: str, *, image_size: int, frames: str, cache_dir: str | Path | None) -> DataManifest:
    """Metadata of `spec`; raises DataError naming the spec or folder when no sweep could use it."""
    spec = str(spec)
    if spec.startswith("synthetic"):
        from .synth import SyntheticGenerator

        domain, params = parse_synthetic_spec(spec)
        cached = cached_table(spec, cache_dir=cache_dir, image_size=image_size, frames=frames)
        gen = SyntheticGenerator(domain=domain, image_size=image_size, frames=frames, realism=params["realism"])
        table = cached if cached is not None else gen.plan(params["patients"], params["seed"])
        return _checked(DataManifest(spec, table, "data cache" if cached is not None else "synthetic plan",
                                     cached is not None, 0 if cached is not None else params["patients"]))
    path = Path(spec).expanduser()
    kind = detect_layout(path)
    if kind == "dataset":
        return _checked(DataManifest(spec, _dataset_table(path, frames), "table.csv", True))
    table = cached_table(spec, cache_dir=cache_dir, image_size=image_size, frames=frames)
    if table is None:
        return DataManifest(spec, None, f"unknown until the {kind} folder is loaded once", False)
    return _checked(DataManifest(spec, table, "data cache", True))


def _dataset_table(path: Path, frames: str) -> pd.DataFrame:
    """table.csv of a dataset folder, with the frame filter `load_dataset` applies; images.npz is only listed."""
    try:
        with zipfile.ZipFile(path / IMAGES_FILE) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(path / IMAGES_FILE, f"unreadable ({exc})", "delete the folder and regenerate it") from None
    if "images.npy" not in names:
        raise DataError(path / IMAGES_FILE, "holds no 'images' array", "delete the folder and regenerate it")
    try:
        table = pd.read_csv(path / TABLE_FILE, dtype={"patient": str, "frame": str})
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(path / TABLE_FILE, f"unreadable ({exc})", "delete the folder and regenerate it") from None
    missing = [c for c in ("patient", "frame", "label") if c not in table.columns]
    if missing:
        raise DataError(path / TABLE_FILE, f"lacks columns {missing}", "a dataset table has patient, frame, label, ...")
    if frames == "ed_es" and table["frame"].isin(["ED", "ES"]).any():
        table = table[table["frame"].isin(["ED", "ES"])].reset_index(drop=True)
    return table


def _checked(manifest: DataManifest) -> DataManifest:
    table = manifest.table
    if table is None:
        return manifest
    if table.empty:
        raise DataError(manifest.spec, "holds no images", "point data.spec at a folder with images")
    bad = sorted(set(table["label"].astype(str)) - set(LABELS))
    if bad:
        raise DataError(manifest.spec, f"unknown labels {bad[:5]}", f"labels are {', '.join(LABELS)}")
    empty = [lab for lab in LABELS if lab not in set(table["label"].astype(str))]
    if empty:
        raise DataError(manifest.spec, f"no images of class {', '.join(empty)}",
                        "a 3-class benchmark needs every class; add patients whose stacks cover the apex and the base")
    return manifest
