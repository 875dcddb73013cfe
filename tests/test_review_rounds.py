"""Later coding rounds (round3/) on top of the hand-made rounds-1-2 fixture (see test_review_agreement.py).

Rounds 1-2 give (resolved or agreeing passes): ref 1 tl_type "feature extractor", accuracy 0.921;
ref 2 (resolved) tl_type "fine-tuning"; ref 4 nothing coded; ref 5 tl_type "fine-tuning".
Round 3 written by `round3` below:
  ref 1  a: tl_type many, n_test 40          b: n_test 40          resolved: tl_type many, n_test 40,
                                                                              sensitivity removed
  ref 2  a: tl_type fine-tuning, metric_scope combined   b: tl_type many, metric_scope combined, n_test 30
  ref 4  a: tl_stated "fine-tuned, extent not stated"    b: the same (agree -> applied from pass a)
  ref 5  a: tl_type feature extractor (pass a only -> not compared, not applied)
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from review.agreement import REVIEW_URL, CodingError, agreement, merge_resolved, read_round, round_folders
from review.cli import main
from review.merge import merge_coding
from review.store import load_studies, write_studies

CODING = Path(__file__).parent / "fixtures" / "review" / "coding"
FT_UNSTATED = "fine-tuned, extent not stated"
COMBINED = "TL combined with other features"


def entry(value, quote=None, url=None, **extra):
    if value is not None:
        quote = quote or f"quote stating {value}"
        url = url or "https://example.org/r3/full-text"
    return {"value": value, "quote": quote, "url": url, **extra}


def write(coding: Path, side: str, ref: int, fields: dict, **top) -> Path:
    folder = coding / "round3" / side
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ref:03d}.json"
    path.write_text(json.dumps({"ref_number": ref, "pass": side, "round": 3, "coder": f"fixture-r3-{side}",
                                "coded_on": "2026-12-01", "fields": fields, **top}))
    return path


@pytest.fixture()
def round3(tmp_path) -> Path:
    coding = Path(shutil.copytree(CODING, tmp_path / "coding"))
    write(coding, "pass_a", 1, {"tl_type": entry("many"), "n_test": entry(40, "40 test images", "https://example.org/r3/1")})
    write(coding, "pass_b", 1, {"n_test": entry(40, "40 test images", "https://example.org/r3/1")})
    write(coding, "resolved", 1, {"tl_type": entry("many"),
                                  "n_test": entry(40, "40 test images", "https://example.org/r3/1"),
                                  "sensitivity": entry(None, reason="the quoted 80 % is a validation-set value")},
          note="tl_type: pass a; the full text compares three TL approaches")
    write(coding, "pass_a", 2, {"tl_type": entry("fine-tuning"), "metric_scope": entry(COMBINED)})
    write(coding, "pass_b", 2, {"tl_type": entry("many"), "metric_scope": entry(COMBINED), "n_test": entry(30)})
    write(coding, "pass_a", 4, {"tl_stated": entry(FT_UNSTATED, "the network was fine-tuned", REVIEW_URL)})
    write(coding, "pass_b", 4, {"tl_stated": entry(FT_UNSTATED, "the network was fine-tuned", REVIEW_URL)})
    write(coding, "pass_a", 5, {"tl_type": entry("feature extractor")})
    return coding


def by_field(items):
    return {i["field"]: i for i in items}


def test_round_agreement_by_hand(round3):
    report = agreement(round3)
    assert report.n_both == 6  # rounds 1-2 unchanged at the top level
    (r3,) = report.rounds
    assert (r3["round"], r3["n_pass_a"], r3["n_pass_b"], r3["n_both"]) == (3, 4, 3, 3)
    assert r3["pass_a_only"] == [5] and r3["pass_b_only"] == [] and r3["one_pass_compared"] == []  # no routes.csv
    tl = by_field(r3["categorical"])["tl_type"]
    # pairs (a, b): ref 1 (many, feature extractor = the value round 3 started from), ref 2 (fine-tuning, many)
    # p_o = 0; p_e = P(many) 1/2 * 1/2 = 1/4; kappa = (0 - 1/4) / (1 - 1/4) = -1/3
    assert tl["n"] == 2 and tl["agreement"] == 0.0 and tl["kappa"] == pytest.approx(-1 / 3)
    assert by_field(r3["categorical"])["metric_scope"]["agreement"] == 1.0
    assert by_field(r3["categorical"])["tl_stated"]["n"] == 1
    assert "modality" not in by_field(r3["categorical"])  # no pass coded it in round 3
    n_test = by_field(r3["numeric"])["n_test"]
    assert (n_test["n_either"], n_test["n_both"], n_test["n_match"]) == (2, 1, 1)


def test_overall_compares_final_views(round3):
    overall = agreement(round3).overall
    tl = by_field(overall["categorical"])["tl_type"]
    # refs 1-5 as in rounds 1-2 (a: FE FE FT - FT, b: FE FT FT - FT) with round 3 laid over:
    # a: many FT FT - FT   b: FE many FT - FT  ->  agreement 2/5
    assert tl["n"] == 5 and tl["agreement"] == pytest.approx(2 / 5)
    assert by_field(overall["numeric"])["n_test"]["n_either"] == 2


def test_no_later_round_leaves_report_as_before():
    report = agreement(CODING)
    assert report.rounds == [] and report.overall is None


def test_merge_applies_resolved_and_agreeing_rounds_only(round3):
    df = merge_resolved(round3)
    rows = df.set_index("ref_number")
    assert rows.loc[1, "tl_type"] == "many" and rows.loc[1, "n_test"] == 40
    assert "n_test: 40 test images [https://example.org/r3/1]" in rows.loc[1, "evidence"]
    assert rows.loc[1, "coded_by"] == "pass a (both passes agree): fixture-a; round 3 resolved: fixture-r3-resolved"
    assert rows.loc[1, "coded_on"] == "2026-12-01"
    assert "round 3: tl_type: pass a" in rows.loc[1, "notes"]
    # ref 2: passes disagree -> rounds-1-2 values stay, metric_scope not applied either
    assert rows.loc[2, "tl_type"] == "fine-tuning" and pd.isna(rows.loc[2, "metric_scope"])
    # ref 4: passes agree -> applied from pass a; a quote from the review is tagged and lowers confidence
    assert rows.loc[4, "tl_stated"] == FT_UNSTATED
    assert f"tl_stated: (Kim et al. 2022) the network was fine-tuned [{REVIEW_URL}]" in rows.loc[4, "evidence"]
    assert rows.loc[4, "confidence"] == "medium"
    assert rows.loc[5, "tl_type"] == "fine-tuning"  # pass a only
    log = {(i["ref_number"]): i for i in df.attrs["rounds"]}
    assert log[1]["applied"] and log[1]["cleared"] == ["sensitivity"]
    assert not log[2]["applied"] and "disagree on tl_type, n_test" in log[2]["origin"]
    assert not log[5]["applied"] and "pass a of the round only" in log[5]["origin"]
    assert df.attrs["problems"] == []


def test_merge_coding_does_not_refill_a_removed_value(round3, tmp_path):
    csv = tmp_path / "studies.csv"
    base = {"authors": "Doe J", "source_url": REVIEW_URL, "evidence": "listed", "coded_by": "review-text",
            "coded_on": "2026-11-23", "confidence": "low"}
    write_studies(csv, pd.DataFrame([base | {"study_id": "doe2011", "ref_number": 1, "year": 2011, "title": "one",
                                             "sensitivity": 0.8, "review_statement": "80 % sensitivity"},
                                     base | {"study_id": "doe2015", "ref_number": 5, "year": 2015, "title": "five",
                                             "specificity": 0.7, "review_statement": "70 % specificity"}]))
    _, report = merge_coding(csv, round3)
    rows = load_studies(csv).set_index("study_id")
    assert pd.isna(rows.loc["doe2011", "sensitivity"])  # removed in round 3 with a reason
    assert rows.loc["doe2015", "specificity"] == pytest.approx(0.7)  # review value still kept where not removed
    assert report.round_values_applied == 3 + 1  # ref 1: tl_type, n_test, sensitivity; ref 4: tl_stated
    assert [(d["ref_number"]) for d in report.round_studies_not_applied] == [2, 5]


def test_tl_stated_next_to_a_tl_type_is_a_problem(round3):
    write(round3, "resolved", 5, {"tl_stated": entry(FT_UNSTATED)})
    problems = merge_resolved(round3).attrs["problems"]
    assert [(p["column"], p["value"]) for p in problems] == [("tl_stated", FT_UNSTATED)]


@pytest.mark.parametrize("fields, message", [
    ({"n_test": {"value": 40, "quote": "40 test images"}}, "'n_test'.*not an http"),
    ({"tl_type": entry("fine tuning")}, "not in the vocabulary"),
    ({"n_test": entry(0)}, "out of range"),
    ({"accuracy": {"value": 0.9, "quote": "", "url": "https://x.org"}}, "needs the verbatim"),
    ({"accuracy": {"value": None}}, "say why in"),
    ({"dataset": entry("x")}, "not a coded field"),
])
def test_bad_round_entries_name_file_and_field(round3, fields, message):
    path = write(round3, "pass_b", 7, fields)
    with pytest.raises(CodingError, match=message) as info:
        agreement(round3)
    assert str(path) in str(info.value)


def test_round_folder_names(tmp_path):
    (tmp_path / "round3").mkdir()
    (tmp_path / "round10").mkdir()
    (tmp_path / "rounds").mkdir()
    assert [n for n, _ in round_folders(tmp_path)] == [3, 10]
    (tmp_path / "round2").mkdir()
    with pytest.raises(CodingError, match="round3, round4"):
        round_folders(tmp_path)


def test_cli_prints_the_round(round3, capsys):
    assert main(["agreement", "--coding", str(round3)]) == 0
    out = capsys.readouterr().out
    assert "round 3 (" in out and "in pass a only (not compared): 5" in out and "overall" in out
    assert main(["agreement", "--coding", str(round3), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert by_field(data["rounds"][0]["categorical"])["tl_type"]["kappa"] == pytest.approx(-1 / 3)


# ---------------------------------------------------------------- the committed round-3 coding
ROUND3 = Path(__file__).resolve().parents[1] / "data" / "coding" / "round3"
ROUTES = ("review-text", "repo-search", "repo-read", "fulltext-search", "coding-r12", "none")
RESULTS = ("values", "nothing", "no-hit")


def _routes() -> list[dict]:
    with (ROUND3 / "routes.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.skipif(not (ROUND3 / "routes.csv").exists(), reason="no round-3 coding committed")
def test_routes_file_lists_every_source_pass_b_must_read():
    """Pass b reads exactly the addresses in routes.csv, so every url a coded value cites is there
    (pass a's and the resolver's values too; the resolver's own checks are rows with pass "r")."""
    rows = _routes()
    assert rows and set(rows[0]) == {"ref_number", "study_id", "pass", "route", "target", "result", "fields", "urls",
                                     "note"}
    assert {r["route"] for r in rows} <= set(ROUTES) and {r["result"] for r in rows} <= set(RESULTS)
    assert {r["pass"] for r in rows} <= {"a", "b", "r"}
    urls: dict[int, set[str]] = {}
    for r in rows:
        urls.setdefault(int(r["ref_number"]), set()).update(r["urls"].split())
    for side in ("pass_a", "pass_b", "resolved"):
        for ref, study in read_round(ROUND3 / side).items():
            assert ref in urls, f"{side}/{ref:03d}.json: no route in routes.csv"
            for name, entry in study["fields"].items():
                if entry["value"] is not None:
                    assert entry["url"] in urls[ref], f"{side}/{ref:03d}.json {name}: {entry['url']} not in routes.csv"



def test_one_pass_study_is_compared_when_the_other_pass_tried_it(round3):
    """Ref 5 is coded by pass a only; a routes.csv row of pass b says b tried it and found nothing,
    so b keeps the start value (fine-tuning) and the pair counts as a disagreement."""
    (round3 / "round3" / "routes.csv").write_text(
        "ref_number,study_id,pass,route,target,result,fields,urls,note\n"
        "5,x,b,repo-search,find_repos 'x',no-hit,,,\n"
        "7,y,a,repo-search,find_repos 'y',no-hit,,,\n", encoding="utf-8")
    (r3,) = agreement(round3).rounds
    assert r3["pass_a_only"] == [5] and r3["one_pass_compared"] == [5]
    tl = by_field(r3["categorical"])["tl_type"]
    # pairs: ref 1 (many, FE), ref 2 (FT, many), ref 5 (FE, FT) -> no agreement among 3
    assert tl["n"] == 3 and tl["agreement"] == 0.0


def test_routes_with_a_bad_ref_number_name_the_line(round3):
    (round3 / "round3" / "routes.csv").write_text(
        "ref_number,study_id,pass,route,target,result,fields,urls,note\n"
        "five,x,b,repo-search,q,no-hit,,,\n", encoding="utf-8")
    with pytest.raises(CodingError, match=r"routes.csv, line 2: ref_number 'five'"):
        agreement(round3)
