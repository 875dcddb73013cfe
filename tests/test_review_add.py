"""`review add` / append_study: validated, duplicate-safe, atomic, safe under concurrency."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time

import pytest

from review.cli import main
from review.store import DuplicateStudyError, InvalidStudyError, append_study, load_studies, read_text_frame

BASE = {"authors": "Doe J; Roe RA", "source_url": "https://example.org/x", "evidence": "title only",
        "coded_by": "tester", "confidence": "low"}


def study(i: int, **changes) -> dict:
    return {**BASE, "study_id": f"doe{2000 + i}", "year": 2000 + i, "title": f"Study number {i}",
            "doi": f"10.1000/s.{i}", **changes}


def test_append_creates_file_and_returns_row(tmp_path):
    path = tmp_path / "s.csv"
    row = append_study(path, study(1, accuracy=0.921, backbone_models=["VGG16", "ResNet50"]))
    assert row["accuracy"] == "0.921" and row["backbone_models"] == "VGG16; ResNet50"
    assert row["coded_on"]  # defaults to today
    df = load_studies(path)
    assert df.loc[0, "study_id"] == "doe2001" and df.loc[0, "year"] == 2001


@pytest.mark.parametrize("changes, what", [
    ({"study_id": "doe2001", "doi": "10.1000/new", "title": "New"}, "same study_id"),
    ({"study_id": "x2009", "doi": "10.1000/S.1", "title": "New"}, "same DOI"),
    ({"study_id": "x2009", "doi": "", "title": "  study NUMBER-1 ", "year": 2001}, "same title and year"),
])
def test_duplicate_refused_and_file_unchanged(tmp_path, changes, what):
    path = tmp_path / "s.csv"
    append_study(path, study(1))
    before = path.read_bytes()
    record = {**study(1), **changes}
    record["title"] = record["title"].strip()
    with pytest.raises(DuplicateStudyError, match=what) as info:
        append_study(path, record)
    assert info.value.existing_id == "doe2001"
    assert path.read_bytes() == before


def test_same_title_other_year_is_not_a_duplicate(tmp_path):
    path = tmp_path / "s.csv"
    append_study(path, study(1))
    append_study(path, study(2, title="Study number 1"))
    assert len(read_text_frame(path)) == 2


def test_invalid_refused_with_every_problem(tmp_path):
    path = tmp_path / "s.csv"
    with pytest.raises(InvalidStudyError) as info:
        append_study(path, study(1, year="20x1", modality="ultrasound", colour="red"))
    assert [p.column for p in info.value.problems] == ["colour"]  # unknown keys are caught first
    with pytest.raises(InvalidStudyError) as info:
        append_study(path, study(1, year="20x1", modality="ultrasound", auc=True))
    assert {p.column for p in info.value.problems} == {"year", "modality", "auc"}
    assert not path.exists()


def test_cli_add_from_flags_and_json(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.csv"
    flags = ["add", "--csv", str(path), "--study-id", "doe2001", "--title", "Study one", "--year", "2001",
             "--authors", "Doe J", "--source-url", "https://example.org/1", "--evidence", "e",
             "--coded-by", "me", "--confidence", "low", "--backbone-models", "VGG16; ResNet50"]
    assert main(flags) == 0
    assert "added doe2001" in capsys.readouterr().out
    src = tmp_path / "s.json"
    src.write_text(json.dumps(study(2)))
    assert main(["add", "--csv", str(path), "--from-json", str(src), "--notes", "flag wins", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["added"] is True and out["row"]["notes"] == "flag wins"
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(study(3))))
    assert main(["add", "--csv", str(path), "--from-json", "-"]) == 0
    assert list(read_text_frame(path)["study_id"]) == ["doe2001", "doe2002", "doe2003"]


def test_cli_add_errors(tmp_path, capsys):
    path = tmp_path / "s.csv"
    src = tmp_path / "s.json"
    src.write_text(json.dumps(study(1)))
    assert main(["add", "--csv", str(path), "--from-json", str(src)]) == 0
    assert main(["add", "--csv", str(path), "--from-json", str(src), "--json"]) == 1
    out = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert out == {"added": False, "error": "duplicate", "message": out["message"], "existing_id": "doe2001"}
    assert main(["add", "--csv", str(path), "--from-json", str(src), "--study-id", "Bad", "--doi", "",
                 "--title", "Other"]) == 1
    assert "column 'study_id', value 'Bad': does not match the pattern" in capsys.readouterr().err
    src.write_text("[1, 2]")
    assert main(["add", "--csv", str(path), "--from-json", str(src)]) == 2
    assert main(["add", "--csv", str(path), "--from-json", str(tmp_path / "missing.json")]) == 2


WORKER = textwrap.dedent("""
    import pathlib, sys, time
    from review.store import append_study
    path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    go = pathlib.Path(path).with_name("go")
    pathlib.Path(path).with_name(who + ".ready").touch()
    deadline = time.time() + 60
    while not go.exists() and time.time() < deadline:  # start together, after the slow imports
        time.sleep(0.01)
    for i in range(n):
        append_study(path, {"study_id": f"{who}{2000 + i}", "year": 2000 + i, "title": f"{who} study {i}",
                            "authors": "Doe J", "source_url": "https://example.org/x", "evidence": "e",
                            "coded_by": who, "confidence": "low"})
""")


@pytest.mark.slow
def test_two_concurrent_writers_both_land(tmp_path):
    path, n = tmp_path / "s.csv", 15
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), who, str(n)], stderr=subprocess.PIPE)
             for who in ("alpha", "beta")]
    deadline = time.time() + 60
    while not all((tmp_path / f"{w}.ready").exists() for w in ("alpha", "beta")) and time.time() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    ids = list(read_text_frame(path)["study_id"])
    assert sorted(ids) == sorted([f"{w}{2000 + i}" for w in ("alpha", "beta") for i in range(n)])
    assert len(load_studies(path)) == 2 * n  # the file is whole and valid
