"""A sweep's plan before anything trains: every data spec checked, every trial's images counted.

Metadata only (see `harness.data.manifest`): no image is rendered, decoded or loaded, so
`harness sweep --dry-run` takes seconds for any preset, and `harness sweep` finds an empty
folder, a missing class, an impossible split or too few patients for the folds before the
first trial instead of recording every trial as failed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .config import SweepConfig, TrialSpec
from .data.errors import DataError
from .data.manifest import DataManifest, describe


@dataclass(frozen=True)
class ImageCounts:
    """Images one trial works on (None when the data's table is not known without loading it)."""

    all: int               # every image of the dataset (copy 0 of each goes through the frozen base)
    train: int             # training patients' images
    test: int              # held-out test images
    train_oversampled: int  # training items per epoch after OAP/OBS oversampling
    train_patients: int
    test_patients: int


@dataclass(frozen=True)
class TrialPlan:
    spec: TrialSpec
    data: DataManifest
    images: ImageCounts | None


@dataclass(frozen=True)
class SweepPlan:
    trials: list[TrialPlan]
    datasets: dict[tuple, DataManifest]     # (spec, image_size, frames) -> manifest, sources' data included
    sources: dict[str, DataManifest]        # source name -> manifest of its data


def data_key(spec: str, image_size: int, frames: str) -> tuple:
    return (str(spec), int(image_size), str(frames))


def plan_sweep(config: SweepConfig, specs: list[TrialSpec] | None = None) -> SweepPlan:
    """Check every data spec of the sweep and count each trial's images; raises DataError naming the spec."""
    specs = config.trials() if specs is None else specs
    data_dir = config.cache_dir / "data"
    datasets: dict[tuple, DataManifest] = {}

    def manifest(spec: str, image_size: int, frames: str, where: str) -> DataManifest:
        key = data_key(spec, image_size, frames)
        if key not in datasets:
            try:
                datasets[key] = describe(spec, image_size=image_size, frames=frames, cache_dir=data_dir)
            except DataError as exc:
                raise DataError(None, f"{where}: {exc}") from None
        return datasets[key]

    d = config.model.data
    sources = {name: manifest(src["data"], d.image_size, d.frames, f"sources.{name}.data")
               for name, src in config.sources().items()}
    trials = []
    for spec in specs:
        data = manifest(spec.data["spec"], spec.data["image_size"], spec.data["frames"], "data.spec")
        trials.append(TrialPlan(spec, data, count_images(spec, data)))
    return SweepPlan(trials, datasets, sources)


def count_images(spec: TrialSpec, data: DataManifest) -> ImageCounts | None:
    """Split the manifest's patients as the trial will (test split, training subset) and count images."""
    from .data import train_test_patients
    from .data.splits import training_subset

    table = data.table
    if table is None:
        return None
    d = spec.data
    try:
        train, test = train_test_patients(table, test_fraction=d["test_fraction"], seed=d["split_seed"])
        train = training_subset(train, spec.train_patients, spec.seed)
    except DataError as exc:
        raise DataError(None, f"data.spec {data.spec!r}, trial {spec.label()}: {exc}") from None
    folds = spec.protocol["folds"]
    if len(train) < folds:
        raise DataError(None, f"data.spec {data.spec!r}, trial {spec.label()}: {len(train)} training patients cannot "
                              f"make protocol.folds = {folds} patient-level folds",
                        "lower protocol.folds or use more patients")
    patients = table["patient"].astype(str)
    train_rows = table[patients.isin(set(train))]
    factors = dict(spec.training["oversample"] or {})
    oversampled = int(sum(factors.get(str(label), 1) for label in train_rows["label"]))
    return ImageCounts(all=len(table), train=len(train_rows), test=int(patients.isin(set(test)).sum()),
                       train_oversampled=oversampled, train_patients=len(train), test_patients=len(test))


def source_images(manifest: DataManifest, oversample: dict | None) -> tuple[int, int] | None:
    """(images, oversampled items per epoch) of a source model's training set (all its images)."""
    if manifest.table is None:
        return None
    factors = dict(oversample or {})
    return len(manifest.table), int(sum(factors.get(str(label), 1) for label in manifest.table["label"]))


def steps(items: float, batch: int) -> int:
    return int(math.ceil(items / max(batch, 1)))
