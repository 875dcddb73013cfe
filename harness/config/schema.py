"""The sweep config schema: every key, its type, its allowed values and its default.

This module is the only place where harness defaults live. Each section is a frozen
pydantic model that forbids unknown keys and is strict about types (no `"5"` for 5, no
`yes` for true); the one leniency is numbers written as text, because YAML 1.1 reads `1e-3`
(no dot) as a string. Checks that involve several sections (a `source:` weight needs a
`sources:` entry, `train_patients` needs at least `protocol.folds` patients, ...) live in
`load.py`, which also turns pydantic's errors into `ConfigError` lines.

`python -m harness.config` prints the key table of docs/harness.md.
"""
from __future__ import annotations

import reprlib
import typing
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# ------------------------------------------------------------------------ value types


def _number_from_text(value: Any) -> Any:
    """'1e-3' -> 0.001 (YAML 1.1 reads exponents without a dot as text); anything else unchanged."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _as_list(value: Any) -> Any:
    """A single value where a list is expected means a list of one."""
    return value if isinstance(value, list) else [value]


def _empty_if_none(value: Any) -> Any:
    """`training:` with nothing under it (YAML null) means "all defaults"."""
    return {} if value is None else value


Number = Annotated[float, BeforeValidator(_number_from_text), Field(allow_inf_nan=False)]
PositiveNumber = Annotated[Number, Field(gt=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
LearningRates = Annotated[list[PositiveNumber], BeforeValidator(_as_list), Field(min_length=1)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"      # becomes a folder name (runs/<name>, sources/<name>)


def _data_spec(spec: str) -> str:
    """A synthetic spec must parse; a folder is checked (exists, layout, classes) before the first trial."""
    if spec.startswith("synthetic"):
        from harness.data.errors import DataError
        from harness.data.loading import parse_synthetic_spec

        try:
            parse_synthetic_spec(spec)
        except DataError as exc:
            raise ValueError(exc.problem + (f" ({exc.hint})" if exc.hint else "")) from None
    elif not spec.strip():
        raise ValueError("empty data spec: give 'synthetic', 'synthetic:3T?patients=16&seed=0' or a data folder")
    return spec


DataSpec = Annotated[str, AfterValidator(_data_spec)]


def _backbone(name: str) -> str:
    """Canonical registry name ('vgg16' -> 'VGG16'); unknown names list the known ones."""
    from harness.backbones import REGISTRY, get_backbone

    from .errors import suggest

    try:
        return get_backbone(name).name
    except ValueError as exc:
        raise ValueError(f"{exc}.{suggest(name, REGISTRY)}") from None


def _strategy(name: str) -> str:
    known = strategy_names()
    if name not in known:
        from .errors import unknown_key

        raise ValueError(unknown_key(name, known, "strategy"))
    return name


def strategy_names() -> list[str]:
    """Names a grid block may use: the strategy registry plus `hybrid` (= hybrid_svm and hybrid_rf)."""
    from harness.strategies import STRATEGIES

    return [*STRATEGIES, "hybrid"]


def _weights(text: Any) -> str:
    """imagenet | none | a .weights.h5 / .keras path | source:<name>; normalised except for paths."""
    from harness.weights import WeightsSpec

    if text is not None and not isinstance(text, str):
        raise ValueError(f"weights must be text (imagenet, none, a .weights.h5 path or source:<name>), "
                         f"got {reprlib.repr(text)}")
    spec = WeightsSpec.parse(text)
    return text if spec.kind == "file" else str(spec)


Backbone = Annotated[str, AfterValidator(_backbone)]
Strategy = Annotated[str, AfterValidator(_strategy)]
Weights = Annotated[Any, AfterValidator(_weights)]


def axis(item_type: Any):
    """A grid axis: one value or a non-empty list of values."""
    return Annotated[list[item_type], BeforeValidator(_as_list), Field(min_length=1)]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, types are strict, values are frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def section(model: type[Section]):
    """A section that may be left empty in YAML (`training:`); defaults to all-default values."""
    return Annotated[model, BeforeValidator(_empty_if_none), Field(default_factory=model)]


# ------------------------------------------------------------------------ sections


class Data(Section):
    """Where the images come from and how the held-out test patients are drawn."""

    spec: DataSpec = Field("synthetic", description="'synthetic[:DOMAIN][?patients=N&seed=S]' or a data folder")
    image_size: int = Field(128, ge=16, description="dataset resolution in pixels (backbones resize to input_size)")
    frames: Literal["ed_es", "all"] = Field("ed_es", description="cardiac phases used")
    test_fraction: Number = Field(0.5, gt=0, lt=1, description="share of patients held out for the test")
    split_seed: NonNegativeInt = Field(0, description="seed of the train/test patient split")


class Preprocessing(Section):
    """Ho & Kim preprocessing: optional central crop (before augmentation), percentile rescale."""

    crop_fraction: Number = Field(0.0, ge=0, lt=1, description="share of each axis cropped away (half per side) "
                                  "before augmentation; the authors crop with augmentation.zoom instead")
    percentiles: Annotated[list[Number], Field(min_length=2, max_length=2)] | None = Field(
        [2.0, 98.0], description="intensity window [low, high] in percent; null = min-max")

    @model_validator(mode="after")
    def _ordered(self) -> "Preprocessing":
        if self.percentiles is not None:
            lo, hi = self.percentiles
            if not 0 <= lo < hi <= 100:
                raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {list(self.percentiles)}")
        return self


class Augmentation(Section):
    """Rotation augmentation of training images (after the CV split), then the authors' fixed zoom."""

    rotation: Number = Field(45.0, ge=0, le=180, description="rotation range in degrees: angles in [-r, r]; "
                                                           "0 = no augmentation")
    copies: NonNegativeInt = Field(5, description="pre-rotated copies per training image in the bank that cached "
                                                  "frozen features are computed for (full fine-tuning draws a fresh "
                                                  "angle every epoch)")
    zoom: Number = Field(0.6, gt=0, le=1, description="fixed central zoom after the rotation, every image (the "
                                                      "authors' crop of the outer 40 %); 1.0 = none")


class Oversample(Section):
    """Copies of each training image per class (OAP and OBS are rare)."""

    OAP: PositiveInt = Field(6, description="copies of each OAP image (paper: x6)")
    IN: PositiveInt = Field(1, description="copies of each IN image")
    OBS: PositiveInt = Field(6, description="copies of each OBS image (paper: x6)")


Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]


class Training(Section):
    """Optimiser and loop (Ho & Kim: SGD, Nesterov 0.9, decay 1e-6, batch 32, 50 epochs)."""

    epochs: PositiveInt = Field(50, description="epochs per (fold, learning rate) run")
    batch_size: PositiveInt = Field(32, description="images per training step")
    batch_size_per_backbone: dict[Backbone, PositiveInt] = Field(
        default_factory=dict, description="backbone -> batch size where it differs (Ho & Kim: InceptionResNetV2: 8)")
    momentum: Number = Field(0.9, ge=0, lt=1, description="SGD momentum")
    nesterov: bool = Field(True, description="Nesterov momentum")
    decay: Number = Field(1e-6, ge=0, description="Keras-2 decay: lr / (1 + decay * step)")
    select_on: Literal["val_accuracy", "val_loss"] = Field(
        "val_accuracy", description="mean validation curve that picks the epoch and learning rate (the paper: "
                                    "accuracy; the SVM: accuracy or hinge loss)")
    oversample: Oversample | None = Field(default_factory=Oversample,
                                          description="per-class copies of training images; null = none")
    precision: Precision = Field("auto", description="auto: mixed precision on a GPU, float32 on a CPU")
    mixed_precision: bool | None = Field(None, description="old spelling: true = precision mixed_float16")
    batchnorm: Literal["train", "frozen"] = Field(
        "train", description="BatchNorm layers inside the unfrozen part when fine-tuning: train (batch statistics, "
                             "moving averages updated, as Keras 2.2) or frozen (inference mode, statistics fixed)")

    @model_validator(mode="after")
    def _precision_alias(self) -> "Training":
        if self.mixed_precision is not None:
            implied = "mixed_float16" if self.mixed_precision else "float32"
            if "precision" in self.model_fields_set and self.precision != implied:
                raise ValueError(f"mixed_precision: {str(self.mixed_precision).lower()} contradicts "
                                 f"precision: {self.precision}; keep only precision")
            object.__setattr__(self, "precision", implied)
            object.__setattr__(self, "mixed_precision", None)
        return self


class Protocol(Section):
    """Patient-level cross-validation that picks the epoch and the candidate."""

    folds: int = Field(5, ge=2, description="patient-level folds")


class FeatureExtractorOptions(Section):
    lrs: LearningRates = Field([1e-2, 1e-3, 1e-4], description="head learning rates (depth 0)")


class PartialFinetuneOptions(Section):
    lrs: LearningRates = Field([1e-3, 1e-4, 1e-5], description="learning rates of block + head (depth >= 1)")
    head_lrs: LearningRates = Field([1e-2, 1e-3, 1e-4], description="learning rates of the warm-start head")
    depth: PositiveInt = Field(1, description="blocks unfrozen from the top")


class FullFinetuneOptions(Section):
    lrs: LearningRates = Field([1e-2, 1e-3, 1e-4], description="learning rates (every layer trained)")


class SvmGrid(Section):
    C: Annotated[list[PositiveNumber], BeforeValidator(_as_list), Field(min_length=1)] = Field(
        [1.0, 10.0], description="SVM regularisation grid")
    kernel: axis(Literal["rbf", "linear", "poly", "sigmoid"]) = Field(["rbf"], description="SVM kernels")


class RfGrid(Section):
    n_estimators: axis(PositiveInt) = Field([200], description="random-forest sizes")
    max_depth: axis(PositiveInt | None) = Field([None], description="tree depths (null = unlimited)")


class HybridOptions(Section):
    svm: section(SvmGrid)
    rf: section(RfGrid)


class Strategies(Section):
    """Candidates each strategy cross-validates."""

    feature_extractor: section(FeatureExtractorOptions)
    partial_finetune: section(PartialFinetuneOptions)
    full_finetune: section(FullFinetuneOptions)
    hybrid: section(HybridOptions)


class Source(Section):
    """A base the harness pretrains itself (full fine-tuning from random weights) for `source:<name>`."""

    data: DataSpec = Field(description="data spec of the source domain")
    epochs: PositiveInt = Field(10, description="training epochs")
    lr: PositiveNumber = Field(1e-2, description="learning rate")
    batch_size: PositiveInt | None = Field(None, description="null = training.batch_size")
    seed: NonNegativeInt = Field(0, description="initialisation and order seed")


class GridBlock(Section):
    """One block of the grid: every combination of its axes is a trial."""

    backbone: axis(Backbone) = Field(description="registry name or keras.applications model")
    strategy: axis(Strategy) = Field(description="feature_extractor, partial_finetune, full_finetune, "
                                                 "hybrid_svm, hybrid_rf or hybrid (both)")
    weights: axis(Weights) = Field(["none"], description="imagenet, none, a weights file or source:<name>")
    input_size: axis(Annotated[int, Field(ge=32)] | None) = Field([None], description="null = backbone default")
    train_patients: axis(PositiveInt | None) = Field([None], description="training patients drawn by the seed; "
                                                                         "null = all")
    seed: axis(NonNegativeInt) = Field([0], description="trial seeds")
    first_trainable: str | None = Field(None, description="layer where partial fine-tuning starts (overrides depth)")


class Sweep(Section):
    """A whole sweep file."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = Field(None, description="default: the file name")
    description: str | None = Field(None, description="free text")
    data: section(Data)
    preprocessing: section(Preprocessing)
    augmentation: section(Augmentation)
    training: section(Training)
    protocol: section(Protocol)
    strategies: section(Strategies)
    sources: Annotated[dict[Annotated[str, Field(pattern=NAME_PATTERN)], Source],
                       BeforeValidator(_empty_if_none)] = Field(default_factory=dict)
    grid: list[GridBlock] = Field(min_length=1, description="blocks of axes")
    isolation: Literal["session", "process"] = Field(
        "session", description="session: clear_session between trials; process: a fresh process per trial")
    cache_dir: str = Field(".harness/cache", description="datasets, features and profiles")
    store: str | None = Field(None, description="results store; default runs/<name>/results.sqlite")


# ------------------------------------------------------------------------ introspection


def fields_at(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """Keys allowed at `loc` (a pydantic error location without its last part), or None."""
    tp: Any = model
    for part in loc:
        tp = _descend(tp, part)
        if tp is None:
            return None
    tp = _unwrap_model(tp)
    return list(tp.model_fields) if tp is not None else None


def _descend(tp: Any, part: Any) -> Any:
    model = _unwrap_model(tp)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    for inner in _members(tp):
        origin = typing.get_origin(inner)
        if origin is list and isinstance(part, int):
            return typing.get_args(inner)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(inner)[1]
        if origin is tuple and isinstance(part, int):
            return typing.get_args(inner)[part] if part < len(typing.get_args(inner)) else None
    return None


def _members(tp: Any) -> list:
    if typing.get_origin(tp) is Annotated:
        return _members(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [tp]


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def expected(loc: tuple) -> str | None:
    """What the key at `loc` accepts, in words: 'an integer >= 1', "one of 'val_loss', 'val_accuracy'"."""
    tp: Any = Sweep
    meta: list = []
    for part in loc:
        model = _unwrap_model(tp)
        if model is not None and isinstance(part, str) and part in model.model_fields:
            info = model.model_fields[part]
            tp, meta = info.annotation, list(info.metadata)
            continue
        tp, meta = _descend(tp, part), []
        if tp is None:
            return None
    return _words(tp, meta)


def _words(tp: Any, meta: list) -> str:
    import annotated_types as at

    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        for m in extra:
            meta += list(getattr(m, "metadata", [])) if hasattr(m, "metadata") else [m]
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_words(a, list(meta)) for a in args if a is not type(None)]
        return ("null or " if type(None) in args else "") + " or ".join(parts)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is list:
        low = next((m.min_length for m in meta if isinstance(m, at.MinLen)), 0)
        high = next((m.max_length for m in meta if isinstance(m, at.MaxLen)), None)
        count = f"{low} items" if low == high else f"{low}+ items" if low else "items"
        return f"a list of {count}, each {_words(args[0], [])}"
    if origin is dict:
        return "a mapping of names to " + _words(args[1], [])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a mapping with keys " + ", ".join(tp.model_fields)
    base = {bool: "true or false", int: "an integer", float: "a number", str: "text"}.get(tp, "text")
    bounds = []
    for m in meta:
        for cls, sign, attr in ((at.Ge, ">=", "ge"), (at.Gt, ">", "gt"), (at.Le, "<=", "le"), (at.Lt, "<", "lt")):
            if isinstance(m, cls):
                bounds.append(f"{sign} {getattr(m, attr):g}")
    return base + (" " + " and ".join(bounds) if bounds else "")


def key_table(model: type[Section] = Sweep, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key path, default, allowed values, description) for every key, sections expanded: the docs table."""
    rows = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = _unwrap_model(info.annotation)
        if sub is not None and info.default_factory is sub:
            rows += key_table(sub, path + ".")
            continue
        if name == "sources":
            rows += key_table(Source, "sources.<name>.")
            continue
        if name == "grid":
            rows += key_table(GridBlock, "grid[].")
            continue
        if info.is_required():
            default = "required"
        else:
            value = info.default_factory() if info.default_factory else info.default
            if isinstance(value, BaseModel):
                value = value.model_dump(mode="json")
            default = _yaml_value(value)
        rows.append((path, default, _words(info.annotation, list(info.metadata)), info.description or ""))
    return rows


def _yaml_value(value: Any) -> str:
    import json

    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value) if not isinstance(value, str) else value


def markdown_key_table() -> str:
    """The key table of docs/harness.md (`python -m harness.config` prints it)."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k}` | `{d}` | {a} | {m} |" for k, d, a, m in key_table()]
    return "\n".join(lines)
