"""Throughput per trial phase, and its share of the device's published reference throughput.

Every trial records, per phase it ran (see `PHASES`), the images it processed, the seconds it
took, images/s, and — when the device, backbone, precision and input size match a published
figure (`throughput_references.yaml`, with sources) — that reference and the share reached.
A reference is only given for a workload it describes: the whole backbone's forward pass
(`cache_fill` of the pooled features of a frozen base) or its whole training step
(`fine_tuning` of a fully fine-tuned network). A trial on a device without a reference row
(every CPU) gets `None`: nothing is invented.

No Keras here (the dashboard and docs import it).
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

#: phases a trial may record (the results schema flattens these)
PHASES = ("cache_fill", "head_training", "fine_tuning", "test")
#: which published workload a phase is compared with, when it covers the whole backbone
PHASE_WORKLOAD = {"cache_fill": "inference", "fine_tuning": "training"}
#: strategies whose trained part is the head (or classifier) on a frozen base's pooled features
HEAD_STRATEGIES = frozenset({"feature_extractor", "hybrid_svm", "hybrid_rf"})
REFERENCE_FILE = Path(__file__).with_name("throughput_references.yaml")
BASES = ("published", "proxy", "scaled estimate")


@dataclass(frozen=True)
class Reference:
    """One reference row: a device's images/s for a backbone, workload, precision and input size."""

    device: str
    match: str
    backbone: str
    workload: str               # "training" | "inference"
    precision: str              # "mixed" | "float32"
    input_size: int
    images_per_s: float
    basis: str                  # one of BASES
    source: str
    note: str = ""
    options: Mapping = field(default_factory=dict)
    source_keys: str = ""       # the data file's short names of `source`, for the docs table

    def matches_device(self, device: str) -> bool:
        return re.search(self.match, device or "", flags=re.IGNORECASE) is not None

    def label(self) -> str:
        """One line naming the figure, its basis and its source (stored with every trial)."""
        text = (f"{self.device}, {self.backbone} {self.workload} at {self.input_size} px, {self.precision}: "
                f"{self.images_per_s:,.0f} images/s ({self.basis}; {self.source})")
        return f"{text}; {self.note}" if self.note else text


def precision_class(policy: str) -> str:
    """Keras dtype policy -> the references' precision ('mixed' for mixed_float16/bfloat16)."""
    return "mixed" if str(policy).startswith("mixed") else str(policy)


@functools.lru_cache(maxsize=None)
def reference_table(path: str | Path = REFERENCE_FILE) -> tuple[Reference, ...]:
    """Every reference row the data file defines (published, proxies, scaled estimates)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    sources = data["sources"]
    rel = data["relative"]
    proxies = tuple(data.get("resnet50_proxies", ()))
    rows: list[Reference] = []
    for a in data["anchors"]:
        src, basis, note = sources[a["source"]], a.get("basis", "published"), a.get("note", "")
        common = {"device": a["device"], "match": a["match"], "precision": a["precision"]}
        rows.append(Reference(**common, backbone="ResNet50", workload="training", input_size=224,
                              images_per_s=float(a["images_per_s"]), basis=basis, source=src, note=note,
                              source_keys=a["source"]))
        if a.get("resnet_only"):
            continue
        for workload in ("training", "inference"):
            block = rel[workload]
            for name, b in block["backbones"].items():
                value = a["images_per_s"] * b["images_per_s"] / rel["resnet50_training"]
                how = (f"{a['images_per_s']:g} x {b['images_per_s']:g} / {rel['resnet50_training']:g} "
                       f"(timm {b['timm']} {workload} / resnet50 training, RTX 3090)")
                extra = "; ".join(x for x in (how, b.get("note", ""), note) if x)
                rows.append(Reference(**common, backbone=name, workload=workload, input_size=int(b["input_size"]),
                                      images_per_s=round(value, 0), basis="scaled estimate",
                                      source=f"{src}; {sources[block['source']]}", note=extra,
                                      options=b.get("options", {}), source_keys=f"{a['source']}, {block['source']}"))
    for p in data.get("published", ()):
        for name, b in p["backbones"].items():
            rows.append(Reference(device=p["device"], match=p["match"], backbone=name, workload=p["workload"],
                                  precision=p["precision"], input_size=int(b["input_size"]),
                                  images_per_s=float(b["images_per_s"]), basis="published",
                                  source=sources[p["source"]], note=b.get("note", ""), options=b.get("options", {}),
                                  source_keys=p["source"]))
    for r in [r for r in rows if r.backbone == "ResNet50"]:
        for proxy in proxies:
            if not any(o.backbone == proxy and (o.device, o.workload, o.precision) == (r.device, r.workload, r.precision)
                       for o in rows):
                basis = r.basis if r.basis == "scaled estimate" else "proxy"
                note = "; ".join(x for x in ("the ResNet-50 figure", r.note) if x)
                rows.append(dataclasses.replace(r, backbone=proxy, basis=basis, note=note))
    for r in rows:
        if r.basis not in BASES:
            raise ValueError(f"{path}: reference basis must be one of {BASES}. Got {r.basis!r} instead.")
    return tuple(rows)


def find_reference(device: str, backbone: str, phase: str, precision: str, input_size: int,
                   options: Mapping | None = None) -> Reference | None:
    """The reference for this phase on this device, or None when no row matches exactly.

    `precision` is a Keras dtype policy name; `options` the backbone's constructor options
    (e.g. alpha): a row with options matches only those options.
    """
    workload = PHASE_WORKLOAD.get(phase)
    if workload is None:
        return None
    opts = {k: v for k, v in (options or {}).items() if k != "first_trainable"}
    for r in reference_table():
        if (r.workload == workload and r.backbone == backbone and r.precision == precision_class(precision)
                and r.input_size == int(input_size) and dict(r.options) == opts and r.matches_device(device)):
            return r
    return None


def whole_network_phases(strategy: str) -> frozenset[str]:
    """Phases whose work is the whole backbone's forward pass or training step (comparable to a reference).

    A frozen base's cache fill runs the whole base; a full fine-tune trains the whole network.
    A partial fine-tune fills the cache up to a boundary and trains the part after it: neither
    is the published workload.
    """
    if strategy in HEAD_STRATEGIES:
        return frozenset({"cache_fill"})
    if strategy == "full_finetune":
        return frozenset({"fine_tuning"})
    return frozenset()


def phase_entry(images: int, seconds: float, reference: Reference | None = None) -> dict:
    """The contract's per-phase record: images, seconds, images/s, reference and share of it."""
    rate = images / seconds if seconds > 0 else None
    ref_rate = reference.images_per_s if reference is not None else None
    return {"images": int(images), "seconds": float(seconds), "images_per_s": rate,
            "reference_images_per_s": ref_rate, "reference": reference.label() if reference is not None else None,
            "share_of_reference": rate / ref_rate if rate is not None and ref_rate else None}


def throughput(counts: Mapping[str, tuple[int, float]], *, device: str, backbone: str, strategy: str,
               precision: str, input_size: int, options: Mapping | None = None) -> dict:
    """`timings["throughput"]` of one trial from (images, seconds) per phase; phases without images are omitted."""
    whole = whole_network_phases(strategy)
    out = {}
    for phase in PHASES:
        images, seconds = counts.get(phase, (0, 0.0))
        if images <= 0:
            continue
        ref = find_reference(device, backbone, phase, precision, input_size, options) if phase in whole else None
        out[phase] = phase_entry(images, seconds, ref)
    return out


def markdown_table(path: str | Path = REFERENCE_FILE) -> str:
    """The reference table of docs/harness.md, generated from the data file (sources as a legend)."""
    lines = ["| device | backbone | workload | precision | input px | images/s | basis | sources | how |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(reference_table(path), key=lambda r: (r.device, r.workload, r.precision, r.backbone)):
        options = " " + ", ".join(f"{k}={v}" for k, v in r.options.items()) if r.options else ""
        lines.append(f"| {r.device} | {r.backbone}{options} | {r.workload} | {r.precision} | {r.input_size} | "
                     f"{r.images_per_s:,.0f} | {r.basis} | {r.source_keys} | {r.note} |")
    sources = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["sources"]
    lines += ["", "Sources:", ""] + [f"- `{key}`: {text}" for key, text in sources.items()]
    return "\n".join(lines)


MARKERS = ("<!-- throughput-references:start -->", "<!-- throughput-references:end -->")


def write_docs_table(path: str | Path) -> None:
    """Replace the generated table between `MARKERS` in `path` (docs/harness.md)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    path.write_text(text[:start] + "\n" + markdown_table() + "\n" + text[end:], encoding="utf-8")


if __name__ == "__main__":      # python -m harness.engine.throughput [docs/harness.md]: print or rewrite the table
    import sys

    if len(sys.argv) > 1:
        write_docs_table(sys.argv[1])
    else:
        print(markdown_table())
