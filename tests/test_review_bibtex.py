"""`review import-bib`: real-world BibTeX edge cases (tests/fixtures/review/edge_cases.bib)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from review.bibtex import import_bib, parse_bib
from review.cli import main
from review.store import load_studies, read_text_frame, validate_csv

FIX = Path(__file__).parent / "fixtures" / "review"


@pytest.fixture
def csv_copy(tmp_path) -> Path:
    return Path(shutil.copy(FIX / "studies_small.csv", tmp_path / "studies.csv"))


def outcome(report) -> dict[str, str]:
    """entry key (+ line) -> added / merged / skipped."""
    out = {}
    for kind in ("added", "merged", "skipped"):
        for item in getattr(report, kind):
            out[f"{item['key']}@{item['line']}"] = kind
    return out


def test_every_entry_gets_its_documented_fate(csv_copy):
    report = import_bib(FIX / "edge_cases.bib", csv_copy)
    assert outcome(report) == {
        "Cheng:2017@8": "merged", "shi_dup@17": "skipped", "muller2019@26": "added",
        "Smith-etal-2020@35": "added", "muller2019@44": "skipped", "noyear@52": "skipped",
        "nosource2018@59": "skipped", "baddoi2016@66": "added", "muller2019b@75": "skipped",
        "broken2015@83": "skipped"}
    reasons = {i["key"] + "@" + str(i["line"]): i["reason"] for i in report.skipped}
    assert "already present as 'shi2018'" in reasons["shi_dup@17"]
    assert "duplicate BibTeX key 'muller2019'" in reasons["muller2019@44"]
    assert "missing year" in reasons["noyear@52"]
    assert "--source-url" in reasons["nosource2018@59"]
    assert "same study as entry 'muller2019'" in reasons["muller2019b@75"]
    assert "could not parse" in reasons["broken2015@83"]
    assert [i["line"] for i in report.skipped] == sorted(i["line"] for i in report.skipped)
    assert validate_csv(csv_copy) == []


def test_skeleton_rows_decode_latex_and_fill_provenance(csv_copy):
    import_bib(FIX / "edge_cases.bib", csv_copy)
    rows = read_text_frame(csv_copy).set_index("study_id")
    muller = rows.loc["muller2019"]
    assert muller["authors"] == "Müller J; Gómez-Valverde JJ; de la Torre J-P"
    assert muller["title"] == "Étude of CNN features in Österreich"
    assert muller["doi"] == "10.1002/mp.99999" and muller["source_url"] == "https://doi.org/10.1002/mp.99999"
    assert (muller["coded_by"], muller["confidence"]) == ("import-bib", "low")
    assert "BibTeX entry 'muller2019' (edge_cases.bib, line 26)" in muller["evidence"]
    assert "and others" in muller["notes"]
    smith = rows.loc["smith2020"]  # key unusable as study_id -> surname + year
    assert (smith["journal"], smith["source_url"]) == ("Proc. MICCAI", "https://example.org/smith2020")
    bad = rows.loc["baddoi2016"]
    assert bad["doi"] == "" and "ignored: not a bare DOI" in bad["notes"]


def test_merge_fills_only_empty_cells(csv_copy):
    before = read_text_frame(csv_copy).set_index("study_id").loc["cheng2017"]
    report = import_bib(FIX / "edge_cases.bib", csv_copy)
    assert report.merged == [{"key": "Cheng:2017", "line": 8, "study_id": "cheng2017", "fields": ["doi", "journal"]}]
    after = read_text_frame(csv_copy).set_index("study_id").loc["cheng2017"]
    assert after["doi"] == "10.1007/s10278-016-9929-2" and after["journal"] == "J Digit Imaging"  # @string resolved
    assert after["title"] == before["title"] and after["authors"] == before["authors"]  # never overwritten
    assert after["notes"].startswith(before["notes"]) and "filled doi, journal" in after["notes"]


def test_source_url_option_and_dry_run(csv_copy):
    before = csv_copy.read_bytes()
    report = import_bib(FIX / "edge_cases.bib", csv_copy, source_url="https://example.org/list.bib", dry_run=True)
    assert "nosource2018" in [i["key"] for i in report.added]
    assert csv_copy.read_bytes() == before


def test_reimport_is_idempotent(csv_copy):
    import_bib(FIX / "edge_cases.bib", csv_copy)
    once = csv_copy.read_bytes()
    report = import_bib(FIX / "edge_cases.bib", csv_copy)
    assert report.added == [] and report.merged == []
    assert csv_copy.read_bytes() == once


def test_parse_bib_handles_comments_and_strings():
    records, skipped = parse_bib("@string{j = {Med Phys}}\n@comment{x}\n"
                                 "@article{a2020, author={A, B}, title={{T}itle}, journal=j, year={2020}}")
    assert skipped == [] and [(r.key, r.title, r.journal, r.authors) for r in records] == [
        ("a2020", "Title", "Med Phys", ["A B"])]


def test_cli_json(csv_copy, capsys):
    assert main(["import-bib", str(FIX / "edge_cases.bib"), "--csv", str(csv_copy), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"bib", "csv", "dry_run", "added", "merged", "skipped"}
    assert len(out["added"]) == 3 and len(out["merged"]) == 1 and len(out["skipped"]) == 6
    assert main(["import-bib", str(FIX / "none.bib"), "--csv", str(csv_copy)]) == 2


def test_shipped_bib_matches_shipped_csv(repo_root, tmp_path):
    """data/references.bib has one entry per study, keyed by study_id; importing it adds nothing."""
    studies = load_studies(repo_root / "data" / "studies.csv")
    records, skipped = parse_bib((repo_root / "data" / "references.bib").read_text(encoding="utf-8"))
    assert skipped == []
    assert sorted(r.key for r in records) == sorted(studies["study_id"])
    copy = Path(shutil.copy(repo_root / "data" / "studies.csv", tmp_path / "s.csv"))
    report = import_bib(repo_root / "data" / "references.bib", copy)
    assert (report.added, report.merged) == ([], [])
