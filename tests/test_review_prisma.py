"""PRISMA 2020 counts: reading (template CSV, YAML), arithmetic checks, diagram, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from review import prisma
from review.cli import main

FIX = Path(__file__).parent / "fixtures" / "review_analyses"
TEMPLATE = FIX / "prisma_template.csv"  # consistent flow: 100 - 10 = 90, 90 - 40 = 50, 50 - 2 = 48, 48 - 36 = 12
# the same flow plus a previous version (30 studies) and other methods (15 - 1 = 14, 14 - 6 = 8): 12 + 8 = 20 new
ARMS = FIX / "prisma_arms.csv"
STUDIES = FIX / "studies.csv"           # 12 rows


def by_name(checks):
    return {c.name: c for c in checks}


def test_template_csv_with_reasons_is_read():
    counts = prisma.load_counts(TEMPLATE)
    assert counts.get("database_results") == 100
    assert counts.reasons["dbr_excluded"] == [("Wrong task", 20), ("No pretrained CNN", 16)]
    assert counts.get("dbr_excluded") == 36  # sum of the reasons
    assert counts.reasons["database_specific_results"] == [("Database A", 60), ("Database B", 40)]
    assert "identification" not in counts.values  # phase label rows carry no count


def test_consistent_counts_pass_every_check():
    checks = prisma.check_counts(prisma.load_counts(TEMPLATE), n_rows=12)
    assert [c.ok for c in checks] == [True] * len(checks)
    names = set(by_name(checks))
    assert {"screened - excluded = sought for retrieval", "sought - not retrieved = assessed",
            "assessed - excluded = included", "included = rows in the studies CSV"} <= names


def test_published_counts_fail_exactly_the_122_vs_121_check(repo_root):
    checks = prisma.check_counts(prisma.load_counts(repo_root / "data" / "prisma.csv"), n_rows=121)
    bad = prisma.failed(checks)
    assert [c.name for c in bad] == ["assessed - excluded = included"]
    assert (bad[0].expected, bad[0].actual) == (122, 121)  # 236 - 114 = 122, not 121
    # the review does not report a retrieval step: checked in one go, and it passes
    assert by_name(checks)["screened - excluded = assessed (no retrieval step reported)"].ok


def test_inconsistent_counts_and_row_mismatch_are_flagged():
    counts = prisma.counts_from_mapping({"database_results": 100, "duplicates": 10,
                                         "records_screened": 91, "records_excluded": 40,
                                         "dbr_sought_reports": 50, "dbr_notretrieved_reports": 0,
                                         "dbr_assessed": 49, "dbr_excluded": 37, "new_studies": 12})
    checks = by_name(prisma.check_counts(counts, n_rows=11))
    assert checks["identified - removed before screening = screened"].ok is False  # 90 != 91
    assert checks["screened - excluded = sought for retrieval"].ok is False         # 51 != 50
    assert checks["sought - not retrieved = assessed"].ok is False                  # 50 != 49
    assert checks["assessed - excluded = included"].ok is True                      # 49 - 37 = 12
    assert checks["included = rows in the studies CSV"].ok is False                 # 12 != 11


def test_negative_and_fractional_counts_fail_the_integer_check():
    counts = prisma.counts_from_mapping({"database_results": 10, "duplicates": -1,
                                         "records_screened": 10.5, "dbr_excluded": "A, 2.5; B, 1"})
    check = prisma.check_counts(counts)[0]
    assert check.name == "every count is a non-negative integer" and check.ok is False
    assert "duplicates=-1" in check.detail and "records_screened=10.5" in check.detail
    assert "reason 'A'=2.5" in check.detail


def test_missing_counts_make_checks_skipped_not_passed():
    counts = prisma.counts_from_mapping({"database_results": 10, "records_screened": "NA",
                                         "dbr_sought_reports": 5, "dbr_assessed": 5})
    checks = by_name(prisma.check_counts(counts))
    assert checks["identified - removed before screening = screened"].ok is None
    assert checks["screened - excluded = sought for retrieval"].ok is None
    assert checks["sought - not retrieved = assessed"].ok is None  # not-retrieved not reported


def test_yaml_counts_file(tmp_path):
    path = tmp_path / "counts.yaml"
    path.write_text("counts:\n  database_results: 20\n  duplicates: 0\n  records_screened: 20\n"
                    "  dbr_excluded: {Off topic: 3, No CNN: 2}\n")
    counts = prisma.load_counts(path)
    assert counts.get("dbr_excluded") == 5 and counts.reasons["dbr_excluded"][0] == ("Off topic", 3)


def test_bad_cell_error_names_file_line_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("data,n\ndatabase_results,467\nduplicates,forty-two\n")
    with pytest.raises(prisma.CountsError, match=r"bad\.csv, line 3, field n of 'duplicates'"):
        prisma.load_counts(path)
    path.write_text("data,n\ndatabase_resluts,467\n")
    with pytest.raises(prisma.CountsError, match="unknown PRISMA2020 name"):
        prisma.load_counts(path)
    path.write_text("data,count\ndatabase_results,467\n")
    with pytest.raises(prisma.CountsError, match="missing column"):
        prisma.load_counts(path)


def test_draw_shows_the_counts():
    counts = prisma.load_counts(TEMPLATE)
    fig = prisma.draw(counts, checks=prisma.check_counts(counts, 11))
    texts = "\n".join(t.get_text() for t in fig.axes[0].texts)
    assert "Databases (n = 100)" in texts and "Wrong task (n = 20)" in texts
    assert "Check failed: included = rows in the studies CSV" in texts


def test_cli_json_and_figure(tmp_path, capsys):
    rc = main(["prisma", "--counts", str(TEMPLATE), "--csv", str(STUDIES),
               "--figure", str(tmp_path / "flow"), "--json", "--strict"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["failed"] == 0 and doc["n_rows"] == 12
    assert all(set(c) >= {"name", "expected", "actual", "ok"} for c in doc["checks"])
    assert doc["counts"]["dbr_excluded"] == 36
    for ext in ("png", "svg", "pdf"):
        assert (tmp_path / f"flow.{ext}").stat().st_size > 0
    assert (tmp_path / "flow.pdf").read_bytes().startswith(b"%PDF")
    assert doc["figure"] == [str(tmp_path / f"flow.{ext}") for ext in ("png", "svg", "pdf")]


def _texts(fig) -> str:
    """Every text of the diagram, line breaks folded into spaces."""
    return " | ".join(" ".join(t.get_text().split()) for t in fig.axes[0].texts)


def test_previous_and_other_arms_are_checked_and_drawn_when_counted():
    counts = prisma.load_counts(ARMS)
    checks = by_name(prisma.check_counts(counts, 20))
    assert checks["other methods: sought - not retrieved = assessed"].ok is True
    assert checks["assessed - excluded = included"].ok is True      # 48 - 36 + 14 - 6 = 20
    assert checks["previous + new studies = total studies"].ok is True
    assert prisma.has_previous_arm(counts) and prisma.has_other_arm(counts)
    text = _texts(prisma.draw(counts))
    assert "Previous studies" in text and "previous version of review (n = 30)" in text
    assert "Identification of new studies via other methods" in text and "Citation searching (n = 8)" in text
    assert "Not a TL study (n = 4)" in text and "Total studies included in review (n = 50)" in text
    assert "New studies included in review (n = 20)" in text
    plain = prisma.load_counts(TEMPLATE)   # no counts in those arms: not drawn
    assert not prisma.has_previous_arm(plain) and not prisma.has_other_arm(plain)
    text = _texts(prisma.draw(plain))
    assert "Previous studies" not in text and "other methods" not in text
    assert "other methods" in _texts(prisma.draw(plain, other=True))  # can be forced


def test_shipped_counts_draw_the_databases_arm_only(repo_root):
    counts = prisma.load_counts(repo_root / "data" / "prisma.csv")  # zeros in the other arms
    text = _texts(prisma.draw(counts))
    assert "Previous studies" not in text and "Databases (n = 467)" in text


def test_cli_strict_fails_on_published_counts_and_says_so(repo_root, capsys):
    rc = main(["prisma", "--counts", str(repo_root / "data" / "prisma.csv"), "--no-csv", "--strict"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL  assessed - excluded = included: 236 - 114 = 122; included: 121" in out
    assert main(["prisma", "--counts", str(repo_root / "data" / "prisma.csv"), "--no-csv"]) == 0


def test_cli_unreadable_counts_exit_2(tmp_path, capsys):
    assert main(["prisma", "--counts", str(tmp_path / "none.csv"), "--no-csv"]) == 2
    assert "no such counts file" in capsys.readouterr().err
