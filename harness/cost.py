"""The dry run's cost model: seconds per trial from image counts and measured step costs.

A step of batch b costs `overhead + per_image * b` (dispatch-bound small steps and
compute-bound large ones in one line). Per backbone and input size a profile holds that line
for the base's forward pass, for a full training step (base + head) and for a training step
of the last block + head on boundary activations, plus the time to build the base and to
trace each kind of step once. A few machine-wide figures complete it: process start-up
(Python + Keras + backend), the dense head's step, image preparation (crop, rescale,
resize, rotate) per megapixel, synthetic data per patient, and scikit-learn fits.
Per-image terms scale with the input's pixel count when a profile was measured at another
input size. `docs/harness.md` ("Dry run and cost model") gives the formulas per strategy.

Profiles come from `harness bench --profile` (this machine, stored under
`<cache_dir>/profiles/<machine key>.json`); without one the built-in default table
(`harness/cost_defaults.json`, measured with the same command on the machine it names) is
used, and the dry run says so.
"""
from __future__ import annotations

import json
import math
import os
import platform
import hashlib
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path

DEFAULTS_FILE = Path(__file__).with_name("cost_defaults.json")
PROFILE_FORMAT = 1
CHUNK = 64            # images per forward call when the activation cache is filled and sets are predicted


# ---------------------------------------------------------------------------- the machine

def machine() -> dict:
    """What a profile is only valid for, found without importing Keras or a backend (so a dry run stays fast)."""
    backend = os.environ.get("KERAS_BACKEND") or _keras_config_backend() or "tensorflow"
    packages = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax", "jaxlib"), "torch": ("torch",)}
    versions = {"keras": _version("keras")}
    for dist in packages.get(backend, ()):
        if _version(dist):
            versions[dist] = _version(dist)
    return {"backend": backend, "accelerators": _gpus(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "versions": versions}


def machine_key(info: dict | None = None) -> str:
    info = machine() if info is None else info
    return hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]


def describe_machine(info: dict) -> str:
    device = ", ".join(info.get("accelerators") or []) or f"CPU ({info.get('cpus')} cores: {info.get('cpu')})"
    return f"{device}; Keras {info.get('versions', {}).get('keras')} on {info.get('backend')}"


def _keras_config_backend() -> str | None:
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _gpus() -> list[str]:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return []
    names = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        except OSError:
            pass
    return names


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------------- profiles

@dataclass(frozen=True)
class StepCost:
    """Seconds of one call with a batch of b images: overhead + per_image * b."""

    overhead_s: float
    per_image_s: float

    def __call__(self, batch: float) -> float:
        return self.overhead_s + self.per_image_s * batch

    def scaled(self, factor: float) -> "StepCost":
        return StepCost(self.overhead_s, self.per_image_s * factor)

    @classmethod
    def fit(cls, small: tuple[int, float], large: tuple[int, float]) -> "StepCost":
        """The line through two (batch, seconds) measurements, clipped to non-negative terms."""
        (b1, t1), (b2, t2) = small, large
        per = max((t2 - t1) / (b2 - b1), 0.0) if b2 != b1 else t2 / max(b2, 1)
        return cls(max(t1 - per * b1, 0.0), per)


@dataclass(frozen=True)
class BackboneCost:
    """Measured costs of one backbone at one input size."""

    input_size: int
    build_s: float            # build the base (weights=None)
    forward: StepCost         # inference through the base
    forward_trace_s: float    # first forward call beyond a steady one (tracing)
    train: StepCost           # training step: base + head, every layer trainable
    train_trace_s: float
    tail: StepCost            # training step: last block + head on boundary activations
    tail_trace_s: float

    def at(self, size: int) -> "BackboneCost":
        factor = (size / self.input_size) ** 2
        return replace(self, input_size=size, forward=self.forward.scaled(factor), train=self.train.scaled(factor),
                       tail=self.tail.scaled(factor))


@dataclass(frozen=True)
class Profile:
    """Step costs of one machine (or the built-in default table)."""

    machine: dict
    measured_at: str
    command: str
    startup_s: float                 # a fresh process: Python + Keras + backend import
    head: StepCost                   # dense head training step on pooled features
    head_trace_s: float
    prep_s_per_megapixel: float      # crop, rescale, resize, rotate: seconds per million model-input pixels
    synth_s_per_patient: float       # synthetic patient, ED/ES, 128 px
    svm_fit_s: float                 # SVC on 1000 x 256 features (scales with n^2)
    rf_fit_s: float                  # random forest of 100 trees on 1000 x 256 features (scales with n * trees)
    backbones: dict[str, BackboneCost] = field(default_factory=dict)   # "name@size" -> costs
    source: str = ""                 # where it was read from (set on load)

    def backbone(self, name: str, size: int) -> tuple[BackboneCost, str]:
        """Costs of `name` at `size`: measured there, else scaled from its nearest measured size, else
        another backbone's (said in the note)."""
        exact = self.backbones.get(f"{name}@{size}")
        if exact is not None:
            return exact, ""
        same = [c for k, c in self.backbones.items() if k.split("@")[0] == name]
        if same:
            nearest = min(same, key=lambda c: abs(math.log(c.input_size / size)))
            return nearest.at(size), f"{name} scaled from {nearest.input_size} px"
        fallback_name = "ResNet50V2" if any(k.startswith("ResNet50V2@") for k in self.backbones) else \
            sorted(self.backbones)[0].split("@")[0]
        cost, _ = self.backbone(fallback_name, size)
        return cost, f"no figure for {name}: {fallback_name}'s assumed"

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("source")
        return {"format": PROFILE_FORMAT, "machine_key": machine_key(self.machine), **out}

    @classmethod
    def from_dict(cls, d: dict, source: str = "") -> "Profile":
        if d.get("format") != PROFILE_FORMAT:
            raise ValueError(f"profile format {d.get('format')!r}, expected {PROFILE_FORMAT}")
        backbones = {k: BackboneCost(**{**v, **{s: StepCost(**v[s]) for s in ("forward", "train", "tail")}})
                     for k, v in d["backbones"].items()}
        keep = {f for f in cls.__dataclass_fields__} - {"backbones", "head", "source"}
        return cls(**{k: d[k] for k in keep}, head=StepCost(**d["head"]), backbones=backbones, source=source)

    def merged(self, other: "Profile") -> "Profile":
        """This profile with `other`'s measurements added (other wins where both measured)."""
        commands = list(dict.fromkeys(c.strip() for c in f"{self.command}; {other.command}".split(";")))
        return replace(other, backbones={**self.backbones, **other.backbones}, command="; ".join(commands))


def profile_path(cache_dir: str | Path, info: dict | None = None) -> Path:
    return Path(cache_dir) / "profiles" / f"{machine_key(info)}.json"


def load_profile(cache_dir: str | Path) -> tuple[Profile, bool]:
    """(this machine's profile, True) when `harness bench --profile` stored one, else (default table, False)."""
    path = profile_path(cache_dir)
    if path.is_file():
        try:
            return Profile.from_dict(json.loads(path.read_text()), source=str(path)), True
        except (OSError, ValueError, KeyError, TypeError):
            pass              # unreadable or older format: fall back to the default table, and say so
    return default_profile(), False


def default_profile() -> Profile:
    return Profile.from_dict(json.loads(DEFAULTS_FILE.read_text()), source=f"default table ({DEFAULTS_FILE.name})")


def save_profile(profile: Profile, cache_dir: str | Path) -> Path:
    """Store (merged with this machine's earlier profile) atomically; returns the path."""
    from .data.dataset import atomic_write_bytes

    path = profile_path(cache_dir, profile.machine)
    if path.is_file():
        try:
            profile = Profile.from_dict(json.loads(path.read_text())).merged(profile)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(profile.to_dict(), indent=2, sort_keys=True).encode())
    return path


# ---------------------------------------------------------------------------- the model

@dataclass(frozen=True)
class Estimate:
    seconds: float
    phases: dict[str, float]
    note: str = ""


def hybrid_candidates(options: dict, kind: str) -> list[dict]:
    grid = options.get(kind, {})
    import itertools

    keys = sorted(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))] or [{}]


class CostModel:
    """Seconds per trial and per one-off job (process start, data generation, source training)."""

    def __init__(self, profile: Profile):
        self.profile = profile

    def trial(self, spec, images, cached: frozenset = frozenset()) -> Estimate:
        """Estimate of one trial (a TrialSpec) from its ImageCounts; phases in seconds.

        `cached` names the activations an earlier trial of the sweep already put in the cache
        ("pooled", "boundary"; see `activation_key`): their fill costs nothing here."""
        from .backbones import get_backbone

        backbone = get_backbone(spec.backbone)
        size = spec.input_size or backbone.input_size
        cost, note = self.profile.backbone(backbone.name, size)
        t, p = spec.training, self.profile
        batch, epochs, folds = t["batch_size"], t["epochs"], spec.protocol["folds"]
        copies = spec.augmentation["copies"]
        fold_items = images.train_oversampled * (folds - 1) / folds
        val = images.train / folds
        prepared = images.all + copies * images.train                 # copy 0 of every image + rotated copies
        prep = prepared * size * size / 1e6 * p.prep_s_per_megapixel
        fill = math.ceil(prepared / CHUNK) * cost.forward(CHUNK) + prep
        pooled = 0.0 if "pooled" in cached else fill + cost.forward_trace_s
        boundary = 0.0 if "boundary" in cached else fill - prep + cost.forward_trace_s
        phases = {"build": cost.build_s}

        def head_runs(candidates: int, with_warm_fits: int = 0) -> float:
            runs = folds * candidates
            steps = (runs * math.ceil(fold_items / batch) + math.ceil(images.train_oversampled / batch)) * epochs
            warm = with_warm_fits * math.ceil(fold_items / batch) * epochs
            return (steps + warm) * p.head(batch) + runs * epochs * p.head(val) + p.head_trace_s

        strategy = spec.strategy
        options = spec.to_dict()["strategy_options"]
        if strategy == "feature_extractor":
            phases.update(cache_fill=pooled, training=head_runs(len(options["lrs"])))
        elif strategy.startswith("hybrid_"):
            kind = strategy.split("_", 1)[1]
            candidates = hybrid_candidates(options, kind)
            n_fits = folds * len(candidates) + 1
            if kind == "svm":
                fit = p.svm_fit_s * (fold_items / 1000) ** 2
            else:
                trees = sum(c.get("n_estimators", 100) for c in candidates) / len(candidates)
                fit = p.rf_fit_s * (fold_items / 1000) * trees / 100
            phases.update(cache_fill=pooled, training=n_fits * fit)
        elif strategy == "partial_finetune":
            runs = folds * len(options["lrs"])
            steps = (runs * math.ceil(fold_items / batch) + math.ceil(images.train_oversampled / batch)) * epochs
            phases.update(
                cache_fill=pooled + boundary,                                # pooled features + boundary activations
                warm_start=head_runs(len(options["head_lrs"]), with_warm_fits=folds + 1),
                training=steps * cost.tail(batch) + cost.tail_trace_s,
                validation=runs * epochs * math.ceil(val / CHUNK) * cost.tail(CHUNK) / 3)
        else:   # full_finetune
            runs = folds * len(options["lrs"])
            steps = (runs * math.ceil(fold_items / batch) + math.ceil(images.train_oversampled / batch)) * epochs
            phases.update(prepare=prep, training=steps * cost.train(batch) + cost.train_trace_s,
                          validation=runs * epochs * math.ceil(val / CHUNK) * cost.forward(CHUNK))
        phases["test"] = math.ceil(images.test / CHUNK) * cost.forward(CHUNK)
        return Estimate(sum(phases.values()), {k: round(v, 2) for k, v in phases.items()}, note)

    @staticmethod
    def activation_key(spec) -> tuple:
        """What the cached activations of a trial depend on (weights, data, split, preprocessing, augmentation):
        trials of a sweep that share it share the cache, so only the first one fills it."""
        d = spec.to_dict()
        random_init = d["weights"] == "none"
        return (d["backbone"], d["input_size"], d["weights"], d["seed"] if random_init or d["train_patients"] else None,
                d["train_patients"], json.dumps([d["data"], d["preprocessing"], d["augmentation"]], sort_keys=True))

    def source(self, backbone_name: str, size: int, images: tuple[int, int], epochs: int, batch: int,
               copies: int) -> Estimate:
        """Training a `source:` model once: full fine-tuning on every image of the source data."""
        cost, note = self.profile.backbone(backbone_name, size)
        n, items = images
        prep = (n + copies * n) * size * size / 1e6 * self.profile.prep_s_per_megapixel
        train = epochs * math.ceil(items / batch) * cost.train(batch) + cost.train_trace_s
        phases = {"build": cost.build_s, "prepare": prep, "training": train}
        return Estimate(sum(phases.values()), {k: round(v, 2) for k, v in phases.items()}, note)

    def data(self, patients: int, image_size: int, frames: str) -> float:
        """Generating `patients` synthetic patients (ED/ES: 2 frames; all: 20)."""
        per = self.profile.synth_s_per_patient * (image_size / 128) ** 2 * (10 if frames == "all" else 1)
        return patients * per


def markdown_table(profile: Profile) -> str:
    """The default table as docs/harness.md shows it (`python -m harness.cost` prints it)."""
    lines = [f"Measured by `{profile.command}` on {describe_machine(profile.machine)}, {profile.measured_at}; "
             f"start-up {profile.startup_s:.1f} s, dense-head step {profile.head.overhead_s * 1e3:.2f} ms + "
             f"{profile.head.per_image_s * 1e3:.3f} ms/image, image preparation "
             f"{profile.prep_s_per_megapixel:.2f} s/megapixel, synthetic patient (128 px, ED/ES) "
             f"{profile.synth_s_per_patient:.2f} s, SVC fit (1000 x 256) {profile.svm_fit_s:.2f} s, "
             f"random forest (100 trees) {profile.rf_fit_s:.2f} s.", "",
             "| backbone @ input | build s | forward ms + ms/image | train step ms + ms/image | "
             "last-block step ms + ms/image | tracing s (forward / train / last block) |",
             "|---|---|---|---|---|---|"]
    for key in sorted(profile.backbones, key=lambda k: (k.split("@")[0], int(k.split("@")[1]))):
        c = profile.backbones[key]
        lines.append(f"| {key} | {c.build_s:.1f} | {_ms(c.forward)} | {_ms(c.train)} | {_ms(c.tail)} | "
                     f"{c.forward_trace_s:.1f} / {c.train_trace_s:.1f} / {c.tail_trace_s:.1f} |")
    return "\n".join(lines)


def _ms(step: StepCost) -> str:
    return f"{step.overhead_s * 1e3:.1f} + {step.per_image_s * 1e3:.2f}"


if __name__ == "__main__":
    print(markdown_table(default_profile()))
