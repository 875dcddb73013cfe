"""`harness data synth | inspect | sim2real`: make, look at and test cardiac slice-range data.

    harness data synth --out DIR --patients N --seed S [--domain 1.5T|3T|7T] [--image-size 128]
                       [--frames ed_es|all] [--realism v1|v2] [--json]
    harness data inspect PATH|SPEC [--json] [--sheet PNG] [--patient ID]
    harness data sim2real SUNNYBROOK_DIR [--realism v1 v2] [--patients 60] [--epochs 12] [--seed S] [--out DIR]

`synth` writes images.npz, masks.npz, table.csv and dataset.json (deterministic
for a seed). `inspect` takes a synth folder, a Sunnybrook-layout folder, a
NIfTI (ACDC / M&Ms) folder, a DICOM folder with labels.csv, or a spec such as
`synthetic:7T?patients=10&seed=1`, and writes a contact sheet of one stack.

JSON of `synth --json` and `inspect --json`::

    {"images":   {"OAP": 14, "IN": 56, "OBS": 26},          # every image
     "slices":   {"OAP": 7, "IN": 30, "OBS": 11},           # slice locations, once per patient (ED label)
     "patients": {"SCD0000101": {"OAP": 2, "IN": 18, "OBS": 4}, ...},
     "frames":   {"ED": {...}, "ES": {...}},
     "n_patients": 4, "n_images": 96, "name": "...", "sources": ["synthetic"], "domains": ["1.5T"],
     "image_shape": [128, 128],
     "contact_sheet": "contact_sheet.png"                   # inspect only
     "out": "DIR", "seconds": 2.1}                          # synth only

`sim2real` prints {"config", "versions", "machine", "real_counts", "runs":
{version: {"real": {"accuracy", "f1", "confusion"}, "synthetic_holdout": {...}}}}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from harness.data.errors import DataError


def configure(parser: argparse.ArgumentParser) -> None:
    from harness.commands.paths import count

    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")

    p = sub.add_parser("synth", help="write a deterministic synthetic cohort (images, masks, labels)")
    p.add_argument("--out", required=True, help="output folder (images.npz, masks.npz, table.csv, dataset.json)")
    p.add_argument("--patients", type=count(1), default=40)
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--domain", default="1.5T", help="site preset: 1.5T, 3T or 7T")
    p.add_argument("--image-size", type=count(16), default=128)
    p.add_argument("--frames", choices=("ed_es", "all"), default="ed_es")
    p.add_argument("--realism", choices=("v1", "v2"), default="v2")
    p.add_argument("--json", action="store_true", help="print a JSON summary")

    p = sub.add_parser("inspect", help="class counts per patient/frame and a contact-sheet PNG")
    p.add_argument("path", help="a synth output, Sunnybrook, NIfTI or DICOM+CSV folder, or a 'synthetic:...' spec")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.add_argument("--sheet", default="contact_sheet.png", help="contact-sheet PNG path ('' to skip)")
    p.add_argument("--patient", default=None, help="patient for the contact sheet (default: the first)")
    p.add_argument("--frames", choices=("ed_es", "all"), default="ed_es")
    p.add_argument("--image-size", type=count(16), default=128)

    p = sub.add_parser("sim2real", help="train a small CNN on synthetic data, test it on Sunnybrook")
    p.add_argument("sunnybrook", help="Sunnybrook folder (dicoms/, contourfiles/, link.csv)")
    p.add_argument("--realism", nargs="+", default=["v1", "v2"], help="generator versions to compare")
    p.add_argument("--patients", type=count(1), default=60)
    p.add_argument("--epochs", type=count(1), default=8)
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--out", default=None, help="write the JSON result here as well")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "data_command", None)
    if action is None:
        print("usage: harness data {synth,inspect,sim2real} ...  (see harness data -h)", file=sys.stderr)
        return 2
    try:
        return {"synth": _synth, "inspect": _inspect, "sim2real": _sim2real}[action](args)
    except DataError as exc:
        print(f"harness data {action}: error: {exc}", file=sys.stderr)
        return 1


def _synth(args) -> int:
    from harness.commands.paths import writable_dir
    from harness.data.domains import get_preset
    from harness.data.inspect import summarise
    from harness.data.synth import SyntheticGenerator
    try:
        get_preset(args.domain)
    except KeyError as exc:
        raise DataError(None, f"--domain {args.domain!r}: {exc.args[0]}") from None
    writable_dir(args.out, "--out")                  # before minutes of generation, not after
    gen = SyntheticGenerator(domain=args.domain, image_size=args.image_size, frames=args.frames, realism=args.realism)
    t0 = time.perf_counter()
    out = gen.write(args.out, args.patients, args.seed, progress=not args.json)
    from harness.data.dataset import CardiacDataset
    summary = summarise(CardiacDataset.load(out))
    summary.update({"out": str(out), "seconds": round(time.perf_counter() - t0, 2)})
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {summary['n_images']} images of {summary['n_patients']} patients to {out} "
              f"in {summary['seconds']} s; images per class {summary['images']}")
    return 0


def _inspect(args) -> int:
    from harness.commands.paths import writable_file
    from harness.data import load_dataset
    from harness.data.inspect import contact_sheet, summarise
    if args.sheet:
        writable_file(args.sheet, "--sheet")
    ds = load_dataset(args.path, image_size=args.image_size, frames=args.frames,
                      require_all_classes=False, use_cache=False)
    summary = summarise(ds)
    if args.sheet:
        summary["contact_sheet"] = str(contact_sheet(ds, args.sheet, patient=args.patient))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['name']}: {summary['n_images']} images, {summary['n_patients']} patients")
        print(f"  images per class: {summary['images']}")
        print(f"  slice locations per class: {summary['slices']}")
        for pid, c in summary["patients"].items():
            print(f"  {pid}: {c}")
        if args.sheet:
            print(f"  contact sheet: {summary['contact_sheet']}")
    return 0


def _sim2real(args) -> int:
    from harness.commands.paths import writable_file
    from harness.data.loading import detect_layout
    from harness.data.sim2real import run_experiment
    if detect_layout(Path(args.sunnybrook)) != "sunnybrook":
        raise DataError(args.sunnybrook, "is not a Sunnybrook folder", "it needs dicoms/, contourfiles/ and link.csv")
    if args.out:
        writable_file(args.out, "--out")             # checked before the experiment, not after
    result = run_experiment(Path(args.sunnybrook), realism=args.realism, n_patients=args.patients,
                            epochs=args.epochs, seed=args.seed)
    text = json.dumps(result, indent=2)
    if args.out:
        from harness.data.dataset import atomic_write_bytes
        atomic_write_bytes(Path(args.out), text.encode())
    print(text)
    return 0
