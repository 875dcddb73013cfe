"""`review summary`: the review's Figures 4 and 5, recomputed from the studies CSV.

    review summary [--csv PATH] [--out DIR] [--bin-width 600] [--json]

Prints the counts behind Figure 4 (studies per year; backbone category,
backbone family and TL type, overall and per year) and Figure 5 (modality x
subject, number of classes, data-quantity histogram). `--out DIR` also writes
DIR/figure4.{png,svg} and DIR/figure5.{png,svg}. Exit 2 when the CSV cannot be
read or does not validate.

JSON (`--json`)::

    {"csv": "data/studies.csv", "n_studies": 121,
     "figure4": {"per_year": [{"year": 2016, "n": 7}, ...],
                 "backbone_category": {"overall": {"multiple": 57, "deep": 33, ...},
                                       "per_year": [{"year": 2016, "backbone_category": "multiple", "n": 2}, ...]},
                 "backbone_family": {"overall": {...}, "per_year": [...]},
                 "tl_type": {"overall": {...}, "per_year": [...]}},
     "figure5": {"modality_subject": [{"modality": "X-ray", "subject": "respiratory system", "n": 9}, ...],
                 "n_classes": [{"n_classes": 2, "n": 60}, ...],
                 "data_size": [{"bin_left": 0, "bin_right": 600, "n": 30}, ...],
                 "left_out": [{"figure": "5a", "rows_left_out": 4, "why": "..."}, ...]},
     "figures": ["out/figure4.png", ...]}

Values not coded are counted under "not coded".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from review.store import DEFAULT_CSV, StudyError, load_studies
from review.summary import DEFAULT_BIN_WIDTH, FIG4_FIELDS, figure4, figure5, to_json


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="studies CSV (default %(default)s)")
    parser.add_argument("--out", metavar="DIR", help="write figure4 and figure5 (PNG + SVG) to DIR")
    parser.add_argument("--bin-width", type=float, default=DEFAULT_BIN_WIDTH,
                        help="Figure 5c histogram bin width (default %(default)s, as in the review)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        df = load_studies(args.csv)
    except StudyError as exc:
        print(f"review summary: {exc}", file=sys.stderr)
        return 2
    doc = {"csv": str(args.csv), **to_json(df, args.bin_width), "figures": []}
    if args.out:
        from review.plotting import save_figure

        out = Path(args.out)
        doc["figures"] = [str(p) for p in save_figure(figure4(df), out / "figure4")]
        doc["figures"] += [str(p) for p in save_figure(figure5(df, args.bin_width), out / "figure5")]
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    _print_text(doc)
    return 0


def _print_text(doc: dict) -> None:
    f4, f5 = doc["figure4"], doc["figure5"]
    print(f"{doc['csv']}: {doc['n_studies']} studies")
    print("Figure 4a  studies per year: " + ", ".join(f"{r['year']}: {r['n']}" for r in f4["per_year"]))
    for field, letter in zip(FIG4_FIELDS, ("4b", "4b", "4c")):
        counts = ", ".join(f"{k} {v}" for k, v in f4[field]["overall"].items() if v)
        print(f"Figure {letter}  {field.replace('_', ' ')}: {counts}")
    print("Figure 5a  modality x subject: " + ", ".join(
        f"{r['modality']}/{r['subject']} {r['n']}" for r in f5["modality_subject"]))
    print("Figure 5b  classes: " + ", ".join(f"{r['n_classes']}: {r['n']}" for r in f5["n_classes"]))
    print("Figure 5c  data quantity: " + ", ".join(
        f"[{r['bin_left']:g}, {r['bin_right']:g}) {r['n']}" for r in f5["data_size"] if r["n"]))
    for r in f5["left_out"]:
        if r["rows_left_out"]:
            print(f"  Figure {r['figure']} leaves out {r['rows_left_out']} row(s): {r['why']}")
    for p in doc["figures"]:
        print(f"figure: {p}")
