"""Coverage of the coded fields in a studies CSV (the numbers of data/RECONSTRUCTION.md, round 3).

Usage (from the repository root):
    python data/coding/round3/coverage.py [CSV] [--rev GIT_REVISION]

Each line: studies with the field coded from the study's own source, and in
parentheses (where it differs) the count including values whose only evidence is a
statement of the review itself (an evidence item "field: (Kim et al. 2022) ..."). With --rev the CSV is read from that git revision.
"""
from __future__ import annotations

import argparse
import io
import re
import subprocess

import pandas as pd

REVIEW_TAG = "(Kim et al. 2022)"


def review_only(row: pd.Series, name: str) -> bool:
    """True when the field's evidence is only the review's own statement."""
    items = [i.strip() for i in str(row.get("evidence") or "").split(" | ")]
    mine = [i for i in items if re.match(rf"{name}:\s", i)]
    return bool(mine) and all(i[len(name) + 1:].strip().startswith(REVIEW_TAG) for i in mine)


def coverage(df: pd.DataFrame) -> dict[str, str]:
    """Studies with each field coded: "own source (with the review's statements)" where they differ."""
    has = {c: df[c].notna() & (df[c].astype(str).str.strip() != "") for c in df.columns}
    own = {c: has[c] & ~df.apply(lambda r, c=c: review_only(r, c), axis=1) for c in df.columns}

    def both(mask_own: pd.Series, mask_all: pd.Series) -> str:
        a, b = int(mask_own.sum()), int(mask_all.sum())
        return str(a) if a == b else f"{a} ({b})"

    def field(name: str) -> str:
        return both(own[name], has[name])

    four = ("backbone_category", "tl_type", "modality", "subject")
    size = ("n_images", "n_patients")
    metric = ("accuracy", "auc")

    def any_of(view, names):
        out = view[names[0]]
        for n in names[1:]:
            out = out | view[n]
        return out

    def all_of(view, names):
        out = view[names[0]]
        for n in names[1:]:
            out = out & view[n]
        return out

    return {
        "studies": str(len(df)),
        "backbone_category": field("backbone_category"),
        "tl_type": field("tl_type"),
        "tl_stated": field("tl_stated"),
        "tl_type or tl_stated": both(own["tl_type"] | own["tl_stated"], has["tl_type"] | has["tl_stated"]),
        "backbone, TL type, modality and subject": both(all_of(own, four), all_of(has, four)),
        "data size (n_images or n_patients)": both(any_of(own, size), any_of(has, size)),
        "accuracy or AUC": both(any_of(own, metric), any_of(has, metric)),
        "data size with accuracy or AUC": both(any_of(own, size) & any_of(own, metric),
                                               any_of(has, size) & any_of(has, metric)),
        "n_test": field("n_test"),
        "metric_scope": field("metric_scope"),
        "metric_scope = TL combined with other features":
            str(int((df["metric_scope"] == "TL combined with other features").sum())),
        "modality": field("modality"),
        "subject": field("subject"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", default="data/studies.csv")
    parser.add_argument("--rev", help="read the CSV from this git revision")
    args = parser.parse_args()
    if args.rev:
        text = subprocess.run(["git", "show", f"{args.rev}:{args.csv}"], check=True, capture_output=True,
                              text=True).stdout
        df = pd.read_csv(io.StringIO(text), dtype=str)
    else:
        df = pd.read_csv(args.csv, dtype=str)
    for name, n in coverage(df).items():
        print(f"{name}\t{n}")


if __name__ == "__main__":
    main()
