"""Rebuild `data/studies.csv` from the resolved coding, keeping what the review says.

The coding folder (`data/coding/`) is the primary record: every coded value
there carries a quote from the study's own page. This module turns it into
CSV rows (`review.agreement.merge_resolved`) and then, per study (matched on
`ref_number`), keeps two things from the current CSV that the coding does not
hold: the `review_statement` (what Kim et al. 2022 write about the study) and
values the review itself states where the study's own source was silent.
Those review-sourced values are marked in `evidence` as
"field: (Kim et al. 2022) quote", so a reader can always tell the two apart.
Studies the coding excludes are dropped; studies whose passes still disagree
(no resolved file) and studies the coding does not know (added later with
`review add`) are kept unchanged.

Later coding rounds (`data/coding/round3/`, ...) are applied on top of rounds
1-2 by `merge_resolved`: their values enter `evidence` as "field: quote [url]".
A value a later round removed (null, with a reason) stays empty: it is not
refilled from the current CSV.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from review.agreement import CODED_FIELDS, DEFAULT_CODING, REVIEW_TAG, merge_resolved
from review.codebook import Codebook, load_codebook
from review.store import DEFAULT_CSV, format_cell, load_studies, locked, write_studies



@dataclass
class MergeReport:
    """What `merge_coding` did; `to_dict` is the JSON of `review merge-coding`."""

    csv: str
    coding: str
    rows_before: int
    rows_after: int
    from_coding: int
    kept_unchanged: list[str] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    unresolved: list[dict] = field(default_factory=list)
    review_values_kept: int = 0
    round_values_applied: int = 0
    round_studies_not_applied: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def merge_coding(csv: str | Path = DEFAULT_CSV, coding_dir: str | Path = DEFAULT_CODING,
                 write: bool = True, codebook: Codebook | None = None) -> tuple[pd.DataFrame, MergeReport]:
    """Merge resolved coding into the studies CSV; write it atomically unless `write=False`.

    With `write=True` the read and the write happen under the CSV's lock, so a `review add`
    running at the same moment is neither lost nor overwritten.
    """
    with locked(csv) if write else nullcontext():
        return _merge_coding(csv, coding_dir, write, codebook)


def _merge_coding(csv, coding_dir, write: bool, codebook: Codebook | None) -> tuple[pd.DataFrame, MergeReport]:
    cb = codebook or load_codebook()
    current = load_studies(csv, validate=False, codebook=cb)
    merged = merge_resolved(coding_dir, codebook=cb, studies=current)
    by_ref = {int(r): row for r, (_, row) in zip(current["ref_number"], current.iterrows()) if pd.notna(r)}
    later = merged.attrs.get("rounds", [])
    cleared: dict[int, set[str]] = {}
    for item in later:
        if item["applied"]:
            cleared.setdefault(item["ref_number"], set()).update(item["cleared"])
    rows, review_values = [], 0
    for _, row in merged.iterrows():
        old = by_ref.get(int(row["ref_number"]))
        if old is not None:
            row, n = _keep_review_text(row, old, cleared.get(int(row["ref_number"]), set()))
            review_values += n
        rows.append(row)
    coded_refs = {int(r) for r in merged["ref_number"]}
    skipped = {int(s["ref_number"]): s["reason"] for s in merged.attrs.get("skipped", [])}
    excluded = {ref for ref, why in skipped.items() if why.startswith("excluded")}
    kept = current[current["ref_number"].isna()
                   | ~current["ref_number"].isin(list(coded_refs | excluded))]
    out = pd.concat([pd.DataFrame(rows), kept], ignore_index=True)[cb.columns]
    out = out.sort_values(["ref_number", "study_id"], na_position="last").reset_index(drop=True)
    report = MergeReport(
        csv=str(csv), coding=str(coding_dir), rows_before=len(current), rows_after=len(out),
        from_coding=len(rows), kept_unchanged=[str(s) for s in kept["study_id"]],
        dropped=[{"ref_number": r, "reason": skipped[r]} for r in sorted(excluded)],
        unresolved=[{"ref_number": r, "reason": why} for r, why in sorted(skipped.items()) if r not in excluded],
        review_values_kept=review_values,
        round_values_applied=sum(len(i["fields"]) for i in later if i["applied"]),
        round_studies_not_applied=[{"round": i["round"], "ref_number": i["ref_number"], "reason": i["origin"]}
                                   for i in later if not i["applied"]],
        problems=merged.attrs.get("problems", []))
    if write:
        write_studies(csv, out)
    return out, report


def _keep_review_text(row: pd.Series, old: pd.Series, cleared: set[str] = frozenset()) -> tuple[pd.Series, int]:
    """Carry over the review's statement, and review-stated values the source lacks
    (not those a later coding round removed: `cleared`)."""
    row = row.copy()
    row["review_statement"] = old.get("review_statement")
    statement = format_cell(old.get("review_statement"))
    added = []
    for name in CODED_FIELDS:
        if pd.isna(row[name]) and not pd.isna(old[name]) and name not in cleared:
            row[name] = old[name]
            added.append(f"{name}: {REVIEW_TAG} {statement}" if statement else f"{name}: {REVIEW_TAG}")
    if added:
        evidence = format_cell(row["evidence"])
        row["evidence"] = " | ".join([evidence, *added]) if evidence else " | ".join(added)
        if row["confidence"] == "high":
            row["confidence"] = "medium"
    return row, len(added)
