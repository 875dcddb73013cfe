"""The codebook: loading, vocabularies, its own checks, and the Markdown rendering."""
from __future__ import annotations

import textwrap

import pytest

from review.codebook import CodebookError, load_codebook


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def test_columns_are_the_contract(cb):
    assert cb.columns[:7] == ["study_id", "ref_number", "authors", "year", "title", "journal", "doi"]
    assert cb.columns[-6:] == ["source_url", "evidence", "coded_by", "coded_on", "confidence", "notes"]
    assert set(cb.required) == {"study_id", "authors", "year", "title", "source_url", "evidence",
                                "coded_by", "coded_on", "confidence"}


def test_vocabularies_are_the_reviews(cb):
    assert cb.vocabulary("tl_type") == ["feature extractor", "feature extractor hybrid", "fine-tuning",
                                        "fine-tuning from scratch", "many"]
    assert cb.vocabulary("backbone_family") == ["Inception", "AlexNet", "VGG", "ResNet", "Inception-ResNet",
                                                "other", "many"]
    assert "integument" in cb.vocabulary("subject") and "X-ray" in cb.vocabulary("modality")
    assert cb.vocabulary("title") == []
    with pytest.raises(KeyError, match="not a codebook field"):
        cb.vocabulary("nope")


def test_markdown_lists_every_field_and_value(cb):
    md = cb.render_markdown()
    for f in cb.fields.values():
        assert f"| `{f.name}` |" in md
        for v in f.vocabulary or ():
            assert f"`{v}`" in md
    assert "## Cross-field rules" in md and "## Conventions" in md


def test_shipped_codebook_md_is_current(cb, repo_root):
    shipped = (repo_root / "data" / "CODEBOOK.md").read_text(encoding="utf-8")
    assert shipped == cb.render_markdown(), "run: review codebook --markdown --out data/CODEBOOK.md"


def test_allowed_describes_constraints(cb):
    assert cb["year"].allowed() == "an integer between 1990 and 2100"
    assert cb["authors"].allowed().endswith("(several joined by '; ')")


@pytest.mark.parametrize("body, message", [
    ("fields: {a: {type: complex}}", "type 'complex'"),
    ("fields: {a: {typ: str}}", "unknown keys"),
    ("fields: [a, b]", "'fields' mapping"),
    ("fields: {a: {vocabulary: [x]}, b: {}}\nconsistency: {r: {if_field: a, then_field: c}}", "is not a field"),
    ("fields: {a: {vocabulary: [x]}, b: {vocabulary: [y]}}\n"
     "consistency: {r: {if_field: a, then_field: b, allowed: {x: [z]}}}", "not in b's vocabulary"),
    ("fields: {a: {description: x: y}}", "not valid YAML"),
])
def test_malformed_codebook_is_rejected(tmp_path, body, message):
    path = tmp_path / "cb.yaml"
    path.write_text(textwrap.dedent(body))
    with pytest.raises(CodebookError, match=message):
        load_codebook(path)


def test_missing_codebook_file(tmp_path):
    with pytest.raises(CodebookError, match="not found"):
        load_codebook(tmp_path / "none.yaml")
