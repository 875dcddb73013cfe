"""`review merge-coding` on the hand-made coding fixture (see test_review_agreement.py).

Fixture coding: refs 1, 2 (resolved), 4, 5 merge; ref 3 disagrees (unresolved);
ref 6 is excluded by pass b only (unresolved); ref 7 is in pass a only.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from review.cli import main
from review.merge import REVIEW_TAG, merge_coding
from review.store import append_study, load_studies, validate_csv, write_studies

CODING = Path(__file__).parent / "fixtures" / "review" / "coding"


def _base_row(**values) -> dict:
    row = {"authors": "Doe J", "title": "t", "source_url": "https://doi.org/10.1186/s12880-022-00793-7",
           "evidence": "listed in the review", "coded_by": "review-text", "coded_on": "2026-11-23",
           "confidence": "low"}
    return row | values


@pytest.fixture()
def csv(tmp_path) -> Path:
    path = tmp_path / "studies.csv"
    rows = [
        _base_row(study_id="doe2011", ref_number=1, year=2011, title="one",
                  review_statement="The review says one reached 80 % sensitivity.", sensitivity=0.8),
        _base_row(study_id="doe2013", ref_number=3, year=2013, title="three"),
        _base_row(study_id="late2024", year=2024, title="added later by review add"),
    ]
    write_studies(path, pd.DataFrame(rows))
    return path


def test_merge_rebuilds_rows_and_keeps_review_text(csv):
    before = load_studies(csv)
    out, report = merge_coding(csv, CODING)
    assert report.rows_before == 3 and report.from_coding == 4
    assert report.rows_after == len(out) == 6  # refs 1, 2, 3 (unchanged), 4, 5 + the later study
    assert validate_csv(csv) == []
    rows = load_studies(csv).set_index("study_id")
    one = rows.loc["doe2011"]
    assert one["review_statement"].startswith("The review says")
    assert one["sensitivity"] == pytest.approx(0.8)  # kept from the review: the coding has none
    assert f"sensitivity: {REVIEW_TAG}" in one["evidence"]
    assert one["accuracy"] == pytest.approx(0.921)  # from the coding
    assert one["confidence"] == "medium"  # part of the row now rests on the review, not the source
    assert rows.loc["doe2013", "title"] == before.set_index("study_id").loc["doe2013", "title"]
    assert {d["ref_number"] for d in report.unresolved} == {3, 6, 7}
    assert "late2024" in rows.index


def test_dry_run_writes_nothing(csv):
    before = csv.read_bytes()
    assert main(["merge-coding", "--csv", str(csv), "--coding", str(CODING), "--dry-run"]) == 0
    assert csv.read_bytes() == before


def test_excluded_study_is_dropped(csv, tmp_path):
    import json, shutil

    coding = Path(shutil.copytree(CODING, tmp_path / "coding"))
    for p in ("pass_a", "pass_b"):
        f = coding / p / "004.json"
        f.write_text(json.dumps(json.loads(f.read_text()) | {"included": False, "inclusion_note": "a review"}))
    append_study(csv, _base_row(study_id="doe2014", ref_number=4, year=2014, title="four"))
    _, report = merge_coding(csv, coding)
    assert [d["ref_number"] for d in report.dropped] == [4]
    assert 4 not in set(load_studies(csv)["ref_number"].dropna())


def test_a_study_added_while_merging_is_not_lost(csv, monkeypatch):
    """merge-coding reads and writes under the CSV's lock: an add that arrives while it
    computes waits, then lands after the merged file instead of being overwritten by it."""
    import threading

    import review.merge as merge_module

    real = merge_module.merge_resolved
    added = threading.Event()

    def slow_merge(*args, **kwargs):
        worker = threading.Thread(target=lambda: (append_study(csv, _base_row(
            study_id="racer2025", year=2025, title="added during the merge")), added.set()))
        worker.start()
        added.wait(0.5)  # without the lock the add lands now, and the merge then overwrites it
        return real(*args, **kwargs)

    monkeypatch.setattr(merge_module, "merge_resolved", slow_merge)
    merge_coding(csv, CODING)
    assert added.wait(30)
    assert "racer2025" in set(load_studies(csv, validate=False)["study_id"])
