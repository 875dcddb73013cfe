"""Hostile and random inputs (Hypothesis): never a traceback, only the package's documented errors,
and never a partial write (the CSV is either unchanged or whole and valid)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.prisma import CountsError, load_counts
from review.spreadsheet import TRIGGERS, is_plain_number, neutralise, restore
from review.store import (StudyError, append_study, load_studies, validate_csv)

FIX = Path(__file__).parent / "fixtures" / "review"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IMPORT_SETTINGS = settings(SETTINGS, max_examples=40)  # each example parses and rewrites a CSV

# Text that looks like the real thing often enough to reach deep code paths, plus anything at all.
hostile_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list(',"\n\r;=+-@\t\'{}\\%#ÄéñŁ0123456789 abcTYER-PMID')), max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)


def _workdir():
    return tempfile.TemporaryDirectory()


@SETTINGS
@given(st.text(min_size=0, max_size=200))
def test_spreadsheet_guard_is_exactly_reversible_and_leaves_no_formula(value):
    guarded = neutralise(value)
    assert restore(guarded) == value
    assert not guarded.startswith(TRIGGERS) or is_plain_number(guarded)


@SETTINGS
@given(st.one_of(st.binary(max_size=400), hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_validator_on_random_files_reports_problems_or_a_study_error(data):
    with _workdir() as tmp:
        path = Path(tmp) / "s.csv"
        path.write_bytes(data)
        try:
            problems = validate_csv(path)
        except StudyError:
            return
        assert isinstance(problems, list)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["study_id", "title", "year", "authors", "doi", "accuracy", "n_test",
                                        "source_url", "evidence", "coded_by", "confidence", "modality",
                                        "backbone_models", "bogus"]),
                       st.one_of(hostile_text, st.integers(), st.floats(allow_nan=True), st.none(),
                                 st.lists(st.text(max_size=10), max_size=3)), max_size=12))
def test_append_study_refuses_or_appends_whole(record):
    with _workdir() as tmp:
        path = Path(shutil.copy(FIX / "studies_small.csv", Path(tmp) / "s.csv"))
        before = path.read_bytes()
        try:
            append_study(path, record)
        except StudyError:
            assert path.read_bytes() == before  # refused: not a byte changed
            return
        assert validate_csv(path) == [] and len(load_studies(path)) == 3


def _import_never_breaks(importer, suffix: str, text: str, documented: tuple[type[BaseException], ...]) -> None:
    with _workdir() as tmp:
        csv_path = Path(shutil.copy(FIX / "studies_small.csv", Path(tmp) / "s.csv"))
        source = Path(tmp) / f"in{suffix}"
        source.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = csv_path.read_bytes()
        try:
            report = importer(source, csv_path, source_url="https://example.org/src")
        except documented:
            assert csv_path.read_bytes() == before
            return
        assert validate_csv(csv_path) == []
        assert len(load_studies(csv_path)) == 2 + len(report.added)


bib_like = st.one_of(hostile_text, st.builds(
    lambda key, title, year, extra: f"@article{{{key},\n  title = {{{title}}},\n  author = {{Doe, J.}},\n"
                                    f"  year = {{{year}}},\n{extra}}}\n",
    st.text(max_size=15), hostile_text, st.one_of(st.integers(-5, 3000).map(str), st.text(max_size=6)),
    hostile_text))


@pytest.mark.slow
@IMPORT_SETTINGS
@given(bib_like)
def test_bibtex_import_never_tracebacks_nor_writes_half(text):
    from review.bibtex import import_bib

    _import_never_breaks(import_bib, ".bib", text, (StudyError, OSError, ValueError))


ris_like = st.one_of(hostile_text, st.builds(
    lambda ty, title, year, extra, end: f"TY  - {ty}\nAU  - Doe, J.\nTI  - {title}\nPY  - {year}\n{extra}\n"
                                        + ("ER  - \n" if end else ""),
    st.text(max_size=6), hostile_text, st.text(max_size=8), hostile_text, st.booleans()),
    st.builds(lambda title, extra: f"PMID- 1\nTI  - {title}\nFAU - Doe, Jane\nDP  - 2020\n{extra}\n",
              hostile_text, hostile_text))


@pytest.mark.slow
@IMPORT_SETTINGS
@given(ris_like)
def test_ris_import_never_tracebacks_nor_writes_half(text):
    from review.ris import import_ris

    _import_never_breaks(import_ris, ".ris", text, (StudyError, OSError, ValueError))


counts_like = st.one_of(
    hostile_text,
    st.builds(lambda rows: "data,n\n" + "\n".join(f"{a},{b}" for a, b in rows),
              st.lists(st.tuples(st.sampled_from(["database_results", "duplicates", "records_screened",
                                                  "dbr_excluded", "new_studies", "NA", "bogus", ""]),
                                 hostile_text), max_size=8)))


@SETTINGS
@given(counts_like, st.sampled_from([".csv", ".yaml", ".json"]))
def test_prisma_counts_reader_raises_only_counts_errors(text, suffix):
    with _workdir() as tmp:
        path = Path(tmp) / f"counts{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            counts = load_counts(path)
        except CountsError:
            return
        assert all(v is None or isinstance(v, float) for v in counts.values.values())


@pytest.mark.parametrize("data", [b"\xff\xfe\x00bad", b"data,n\nduplicates,\x00\n", b"{not json", b"- [a\n"])
def test_prisma_counts_reader_names_the_file_for_undecodable_input(tmp_path, data):
    for suffix in (".csv", ".json", ".yaml"):
        path = tmp_path / f"c{suffix}"
        path.write_bytes(data)
        with pytest.raises(CountsError, match=str(path.name)):
            load_counts(path)
