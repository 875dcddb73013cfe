"""`review export-bib`: the CSV's bibliography written as BibTeX parses back to the same studies."""
from __future__ import annotations

import shutil
from pathlib import Path

from review.bibtex import import_bib, parse_bib
from review.cli import main
from review.export_bib import _bibtex_author
from review.store import load_studies

SMALL = Path(__file__).parent / "fixtures" / "review" / "studies_small.csv"


def test_author_names_become_bibtex_last_first():
    assert _bibtex_author("Cheng PM") == "Cheng, P. M."
    assert _bibtex_author("de la Torre-Diez I") == "de la Torre-Diez, I."
    assert _bibtex_author("Plato") == "Plato"


def test_round_trip_adds_nothing(tmp_path):
    csv = Path(shutil.copy(SMALL, tmp_path / "studies.csv"))
    bib = tmp_path / "refs.bib"
    assert main(["export-bib", "--csv", str(csv), "--out", str(bib)]) == 0
    records, skipped = parse_bib(bib.read_text(encoding="utf-8"))
    studies = load_studies(csv)
    assert skipped == [] and [r.key for r in records] == list(studies["study_id"])
    by_key = {r.key: r for r in records}
    first = studies.iloc[0]
    assert by_key[first["study_id"]].doi == first["doi"]
    assert by_key[first["study_id"]].authors[0].startswith(first["authors"].split()[0])
    report = import_bib(bib, csv)
    assert report.added == []


def test_written_file_is_readable_by_others(tmp_path):
    """Atomic writes go through mkstemp (0600); the result must be an ordinary 0644 file."""
    bib = tmp_path / "refs.bib"
    assert main(["export-bib", "--csv", str(SMALL), "--out", str(bib)]) == 0
    assert bib.stat().st_mode & 0o777 == 0o644
