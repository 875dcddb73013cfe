"""Inter-coder agreement and merging on a hand-made coding folder (tests/fixtures/review/coding).

Fixture (refs 1-6 in both passes, ref 7 in pass a only, resolved/002.json):
  included  a: T T T T T T     b: T T T T T F
  tl_type   a: FE FE FT -  FT  (ref 6 excluded by b, so not compared)
            b: FE FT FT -  FT
  accuracy  a: .921 .90  -   -  .75      b: .9214 .85 .80 - .75
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from review.agreement import CodingError, agreement, merge_resolved
from review.cli import main
from review.store import validate_frame

CODING = Path(__file__).parent / "fixtures" / "review" / "coding"


@pytest.fixture(scope="module")
def report():
    return agreement(CODING)


def by_field(items):
    return {i["field"]: i for i in items}


def test_counts(report):
    assert (report.n_pass_a, report.n_pass_b, report.n_both, report.n_both_included) == (7, 6, 6, 5)


def test_kappa_for_included_by_hand(report):
    # p_o = 5/6; p_e = P(a=T)P(b=T) + P(a=F)P(b=F) = 1 * 5/6 + 0 = 5/6  ->  kappa = 0
    assert report.included["agreement"] == pytest.approx(5 / 6)
    assert report.included["kappa"] == pytest.approx(0.0)


def test_kappa_for_tl_type_by_hand(report):
    # refs 1-5; categories FE, FT, (not stated): a = 2, 2, 1; b = 1, 3, 1
    # p_o = 4/5; p_e = (2*1 + 2*3 + 1*1) / 25 = 9/25; kappa = (20/25 - 9/25) / (16/25) = 11/16
    tl = by_field(report.categorical)["tl_type"]
    assert tl["agreement"] == pytest.approx(4 / 5)
    assert tl["kappa"] == pytest.approx(11 / 16)
    assert tl["n"] == 5 and tl["n_both_stated"] == 4


def test_kappa_undefined_when_one_category(report):
    modality = by_field(report.categorical)["modality"]  # never stated by either pass
    assert modality["kappa"] is None and modality["agreement"] == 1.0


def test_numeric_exact_share_with_tolerance(report):
    acc = by_field(report.numeric)["accuracy"]
    # pairs with a value: ref1 .921/.9214 (match, |d| <= 0.0005), ref2 .90/.85, ref3 -/.80, ref5 .75/.75
    assert (acc["n_either"], acc["n_both"], acc["n_match"]) == (4, 3, 2)
    assert acc["exact_share"] == 0.5 and acc["tolerance"] == 0.0005
    n_images = by_field(report.numeric)["n_images"]
    assert (n_images["n_match"], n_images["n_either"], n_images["tolerance"]) == (1, 2, 0.0)


def test_model_lists_compare_as_sets(report):
    models = by_field(report.sets)["backbone_models"]  # "VGG16; ResNet50" == "resnet50; VGG16"
    assert (models["n_match"], models["n_either"]) == (1, 2)


def test_merge_resolved_rules():
    df = merge_resolved(CODING)
    assert list(df["ref_number"]) == [1, 2, 4, 5]
    skipped = {s["ref_number"]: s["reason"] for s in df.attrs["skipped"]}
    assert "disagree on accuracy" in skipped[3]
    assert "disagree on included" in skipped[6]
    assert "pass a only" in skipped[7]
    assert df.attrs["problems"] == [] and validate_frame(df) == []
    rows = df.set_index("ref_number")
    assert rows.loc[2, "tl_type"] == "fine-tuning" and rows.loc[2, "coded_by"] == "resolved: fixture-resolved"
    assert rows.loc[2, "confidence"] == "medium"  # accuracy has no quote in resolved/002.json
    assert rows.loc[1, "coded_by"] == "pass a (both passes agree): fixture-a"
    assert rows.loc[1, "confidence"] == "high" and rows.loc[1, "accuracy"] == pytest.approx(0.921)
    assert rows.loc[1, "evidence"].startswith("backbone_models: we used VGG16; ResNet50 | tl_type: quote")
    assert rows.loc[4, "confidence"] == "low" and "no codable values" in rows.loc[4, "evidence"]
    assert rows.loc[5, "source_url"] == "https://example.org/study/5"


def test_merge_keeps_study_ids_of_the_csv():
    studies = pd.DataFrame({"ref_number": pd.array([1, 2], dtype="Int64"), "study_id": ["kept2011", "kept2012"]})
    df = merge_resolved(CODING, studies=studies)
    assert list(df["study_id"]) == ["kept2011", "kept2012", "doe2014", "doe2015"]


def test_colliding_ids_get_letters(tmp_path):
    coding = Path(shutil.copytree(CODING, tmp_path / "coding"))
    for p in ("pass_a", "pass_b"):
        f = coding / p / "005.json"
        data = json.loads(f.read_text())
        f.write_text(json.dumps({**data, "study_id": "doe2014"}))
    assert list(merge_resolved(coding)["study_id"]) == ["doe2011", "doe2012", "doe2014a", "doe2014b"]


def test_bad_coding_file_is_named(tmp_path):
    coding = Path(shutil.copytree(CODING, tmp_path / "coding"))
    (coding / "pass_b" / "003.json").write_text("{not json")
    with pytest.raises(CodingError, match="003.json: not readable JSON"):
        agreement(coding)


def test_cli(capsys):
    assert main(["agreement", "--coding", str(CODING), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_both"] == 6 and by_field(out["categorical"])["tl_type"]["kappa"] == pytest.approx(11 / 16)
    assert main(["agreement", "--coding", str(CODING)]) == 0
    assert "tl_type" in capsys.readouterr().out
