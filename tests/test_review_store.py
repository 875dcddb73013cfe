"""The studies CSV: validation of every kind of bad cell, typed loading, atomic writes."""
from __future__ import annotations

import json

import csv
from pathlib import Path

import pandas as pd
import pytest

from review import store
from review.cli import main
from review.codebook import load_codebook
from review.store import (InvalidStudyError, StudyFileError, load_studies, split_multi, validate_csv,
                          validate_frame, write_studies)

CB = load_codebook()
GOOD = {
    "study_id": "doe2019", "ref_number": "64", "authors": "Doe J; Roe RA", "year": "2019",
    "title": "A transfer learning study", "journal": "J Test", "doi": "10.1000/xyz.1",
    "backbone_models": "VGG16; ResNet50", "backbone_category": "multiple", "backbone_family": "many",
    "tl_type": "feature extractor", "fine_tuning_ratio": "0", "accuracy": "0.921", "auc": "0.95",
    "modality": "CT", "subject": "respiratory system", "n_images": "1200", "n_classes": "2",
    "source_url": "https://example.org/doe2019", "evidence": "accuracy: 92.1%", "coded_by": "tester",
    "coded_on": "2026-11-23", "confidence": "high",
}


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or CB.columns
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def other(**changes: str) -> dict[str, str]:
    """A second valid row (different identity) with some cells changed."""
    return {**GOOD, "study_id": "roe2020", "doi": "10.1000/xyz.2", "title": "Another study", "year": "2020",
            **changes}


def test_valid_rows_have_no_problems(tmp_path):
    assert validate_csv(write_csv(tmp_path / "s.csv", [GOOD, other()])) == []


@pytest.mark.parametrize("column, value, message", [
    ("title", "", "required field is empty"),                       # missing required
    ("confidence", "", "required field is empty"),
    ("modality", "ct", "not in the vocabulary (did you mean 'CT'?)"),  # bad vocabulary
    ("tl_type", "transfer", "not in the vocabulary"),
    ("accuracy", "89.3", "out of range; allowed: a number between 0 and 1 (a fraction"),  # out of range
    ("year", "1989", "out of range"),
    ("n_classes", "1", "out of range"),
    ("year", "20x7", "not an integer"),                             # bad type
    ("n_images", "12.5", "not an integer"),
    ("auc", "high", "not a number"),
    ("auc", "nan", "not a finite number"),
    ("coded_on", "2026-02-30", "not a date"),
    ("coded_on", "23/11/2026", "not a date"),
    ("source_url", "doi:10.1000/x", "not a URL"),
    ("study_id", "Doe2019", "does not match the pattern"),           # bad pattern
    ("doi", "https://doi.org/10.1000/x", "does not match the pattern"),
    ("authors", "Doe J;Roe RA", "bad multi-value encoding"),         # bad multi-value
    ("authors", "Doe J; ; Roe RA", "bad multi-value encoding"),
    ("backbone_models", "VGG16; VGG16", "duplicate items"),
    ("title", " padded", "leading or trailing whitespace"),
    ("backbone_family", "VGG", "inconsistent with backbone_category='multiple'"),  # cross-field rule
])
def test_each_kind_of_invalid_cell(tmp_path, column, value, message):
    path = write_csv(tmp_path / "s.csv", [GOOD, other(**{column: value})])
    problems = validate_csv(path)
    assert len(problems) == 1, problems
    p = problems[0]
    assert (p.row, p.line, p.column, p.value, p.file) == (2, 3, column, value, str(path))
    assert message in p.message
    assert f"{path}:3, row 2, column '{column}'" in str(p)


@pytest.mark.parametrize("changes, column", [
    ({"study_id": "doe2019"}, "study_id"),
    ({"doi": "10.1000/XYZ.1"}, "doi"),                                   # DOI case-insensitive
    ({"title": "A Transfer-Learning study!", "year": "2019"}, "title"),   # normalised title + year
])
def test_duplicates_are_flagged(tmp_path, changes, column):
    problems = validate_csv(write_csv(tmp_path / "s.csv", [GOOD, other(**changes)]))
    assert [(p.row, p.column) for p in problems] == [(2, column)]
    assert "duplicate of row 1 (doe2019)" in problems[0].message


def test_header_problems(tmp_path):
    columns = [c for c in CB.columns if c != "notes"] + ["extra"]
    problems = validate_csv(write_csv(tmp_path / "s.csv", [GOOD], columns))
    assert {(p.row, p.column) for p in problems} == {(None, "notes"), (None, "extra")}
    assert any("column missing" in p.message for p in problems)
    assert any("unknown column" in p.message for p in problems)


def test_line_numbers_follow_quoted_newlines(tmp_path):
    path = write_csv(tmp_path / "s.csv", [{**GOOD, "notes": "two\nlines"}, other(year="x")])
    (p,) = validate_csv(path)
    assert (p.row, p.line) == (2, 4)


def test_unreadable_files(tmp_path):
    with pytest.raises(StudyFileError, match="no such studies CSV"):
        validate_csv(tmp_path / "missing.csv")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("study_id,year\ndoe2019,2019,extra\n")
    with pytest.raises(StudyFileError, match=r"ragged.csv:2: row has 3 cells"):
        validate_csv(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "file is empty" in validate_csv(empty)[0].message


def test_load_studies_types(tmp_path):
    df = load_studies(write_csv(tmp_path / "s.csv", [GOOD, other(accuracy="", n_images="")]))
    assert list(df.columns) == CB.columns
    assert str(df["year"].dtype) == "Int64" and str(df["accuracy"].dtype) == "Float64"
    assert df["study_id"].dtype == "str"
    assert df.loc[0, "accuracy"] == pytest.approx(0.921) and pd.isna(df.loc[1, "accuracy"])
    assert df.loc[0, "n_images"] == 1200 and pd.isna(df.loc[1, "n_images"])
    assert pd.isna(df.loc[0, "notes"]) and (df["modality"] == "CT").all()


def test_load_studies_refuses_invalid_unless_told(tmp_path):
    path = write_csv(tmp_path / "s.csv", [GOOD, other(year="20x7")])
    with pytest.raises(InvalidStudyError, match="20x7") as info:
        load_studies(path)
    assert info.value.problems[0].column == "year"
    df = load_studies(path, validate=False)
    assert pd.isna(df.loc[1, "year"]) and df.loc[0, "year"] == 2019


def test_validate_frame_accepts_typed_frames(tmp_path):
    df = load_studies(write_csv(tmp_path / "s.csv", [GOOD]))
    assert validate_frame(df, CB) == []
    df.loc[0, "accuracy"] = 1.5
    assert [p.column for p in validate_frame(df, CB)] == ["accuracy"]


def test_split_multi():
    assert split_multi("VGG16; ResNet50") == ["VGG16", "ResNet50"]
    assert split_multi("VGG16;ResNet50 ;") == ["VGG16", "ResNet50"]
    assert split_multi(None) == [] and split_multi(float("nan")) == [] and split_multi(pd.NA) == []


def test_write_round_trip(tmp_path):
    path = write_csv(tmp_path / "s.csv", [GOOD, other()])
    before = path.read_text()
    write_studies(path, load_studies(path))
    assert path.read_text() == before


def test_write_refuses_invalid_frame(tmp_path):
    path = write_csv(tmp_path / "s.csv", [GOOD])
    before = path.read_text()
    df = load_studies(path)
    df.loc[0, "confidence"] = "sure"
    with pytest.raises(InvalidStudyError, match="confidence"):
        write_studies(path, df)
    assert path.read_text() == before


def test_crash_during_write_leaves_csv_intact(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "s.csv", [GOOD])
    before = path.read_bytes()

    def half_then_crash(handle, columns, rows):
        handle.write(",".join(columns) + "\n" + "doe2019,64,Doe")  # a torn row
        handle.flush()
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(store, "_write_rows", half_then_crash)
    with pytest.raises(OSError, match="simulated"):
        store.append_study(path, other())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.csv.lock"]  # no temp file left


def test_shipped_csv_validates(repo_root, capsys):
    csv_path = repo_root / "data" / "studies.csv"
    assert main(["validate", str(csv_path)]) == 0
    assert "valid" in capsys.readouterr().out
    df = load_studies(csv_path)
    assert df["study_id"].is_unique
    refs = pd.read_csv(repo_root / "data" / "coding" / "reference_list.csv")
    candidates = set(refs.loc[refs["candidate"] == "yes", "ref_number"])
    excluded = {json.loads(f.read_text())["ref_number"] for f in (repo_root / "data" / "coding" / "resolved").glob("*.json")
                if json.loads(f.read_text())["included"] is False}
    # one row per candidate reference that the resolved coding did not exclude
    assert sorted(df["ref_number"]) == sorted(candidates - excluded)


def test_validate_command_reports_problems(tmp_path, capsys):
    import json

    path = write_csv(tmp_path / "s.csv", [GOOD, other(year="20x7")])
    assert main(["validate", "--csv", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:3, row 2, column 'year', value '20x7': not an integer" in out
    assert main(["validate", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False and report["rows"] == 2
    assert report["problems"][0] | {"file": None} == {"row": 2, "line": 3, "column": "year", "value": "20x7",
                                                      "message": report["problems"][0]["message"], "file": None}
    assert main(["validate", str(tmp_path / "none.csv")]) == 2


@pytest.mark.shared
def test_review_text_rows_quote_the_review_verbatim(repo_root, shared_dir):
    """Every review_statement and evidence quote of a review-text row occurs in Kim et al. 2022's text."""
    import re

    def norm(text: str) -> str:
        return " ".join(text.replace("\\", "").split())

    review = norm((shared_dir / "seeds" / "004_5a3be67f9ef1fa69.txt").read_text(encoding="utf-8"))
    df = load_studies(repo_root / "data" / "studies.csv")
    rows = df[df["coded_by"] == "review-text"]
    checked = 0
    for _, row in rows.iterrows():
        quotes = [] if pd.isna(row["review_statement"]) else re.split(r"(?<=\.) ", row["review_statement"])
        for item in row["evidence"].split(" | "):
            if not item.startswith("listed in the review's reference list as ["):
                quotes.append(item.split(": ", 1)[1] if re.match(r"^[a-z_, ]+: ", item) else item)
        for quote in quotes:
            assert norm(quote).rstrip(".") in review, (row["study_id"], quote)
            checked += 1
    assert checked >= len(rows[rows["review_statement"].notna()])
