"""Audit: published vs recomputed numbers, and the published numbers' own inconsistencies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from review import audit
from review.cli import main
from review.published import PublishedError, load_published
from review.store import load_studies

STUDIES = Path(__file__).parent / "fixtures" / "review_analyses" / "studies.csv"

PUBLISHED = """
source: {citation: fixture}
numbers:
  - {key: rows, label: rows, value: 12, where: here, quote: q, recompute: {kind: rows}}
  - {key: deep, label: deep, value: 7, where: here, quote: q,
     recompute: {kind: count, field: backbone_category, value: deep}}
  - {key: shallow, label: shallow, value: 5, where: here, quote: q,
     recompute: {kind: count, field: backbone_category, value: shallow}}
  - {key: multiple, label: multiple, value: 0, where: here, quote: q,
     recompute: {kind: count, field: backbone_category, value: multiple}}
  - {key: fe, label: fe, value: 6, where: here, quote: q,
     recompute: {kind: count, field: tl_type, value: feature extractor}}
  - {key: sens, label: sens, value: 3, where: here, quote: q,
     recompute: {kind: count, field: sensitivity, value: "0.9"}}
  - {key: subset, label: subset, value: 7, where: here, quote: q, recompute: {kind: spearman_subset}}
  - {key: minor, label: minor, value: 1, where: here, quote: q,
     recompute: {kind: spearman_excluded, reason: minor model}}
  - {key: both, label: both, value: 3, where: here, quote: q, recompute: {kind: spearman_both_metrics}}
  - {key: r, label: r, value: 0.80, where: here, quote: q, recompute: {kind: spearman, metric: auc, stat: r}}
  - {key: p, label: p, value: 0.5, where: here, quote: q, recompute: {kind: spearman, metric: auc, stat: p}}
  - {key: flow, label: flow, value: 467, where: here, quote: q, recompute: null}
"""


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("pub") / "published.yaml"
    path.write_text(PUBLISHED)
    return audit.audit(load_studies(STUDIES), load_published(path)).set_index("key")


def test_statuses_differences_and_coverage(table):
    assert table.loc["rows", "status"] == "match"
    assert table.loc["deep", "status"] == "match"          # 7 of 11 coded rows
    assert (table.loc["deep", "coverage_n"], table.loc["deep", "coverage_of"]) == (11, 12)
    # shallow: 2 found, 5 published, 1 row not coded -> may still close: incomplete
    assert table.loc["shallow", "status"] == "incomplete" and table.loc["shallow", "difference"] == -3
    # multiple: 1 found > 0 published: coding more rows cannot lower it -> differs
    assert table.loc["multiple", "status"] == "differs"
    assert table.loc["fe", "status"] == "match"  # charlie delta foxtrot india kilo lima
    assert table.loc["sens", "status"] == "no data"          # nobody coded sensitivity
    assert table.loc["subset", "status"] == "match" and table.loc["minor", "status"] == "match"
    assert table.loc["both", "status"] == "match"
    assert table.loc["r", "status"] == "match"               # 0.8 at 2 decimals
    # p = 0.104 vs 0.5 from 5 of the 7 kept studies (kilo lacks AUC, lima a data size)
    assert table.loc["p", "status"] == "incomplete"
    assert (table.loc["p", "coverage_n"], table.loc["p", "coverage_of"]) == (5, 7)
    assert table.loc["flow", "status"] == "not recomputable"


def test_published_inconsistencies_are_flagged(repo_root):
    """r = 0.05 at n = 41: t = 0.05 * sqrt(39 / 0.9975) = 0.313. A t below 0.674 (the 75th
    percentile of every t distribution with >= 1 df is at most 1 and tends to 0.674) gives a
    two-sided p above 0.5, so p = 0.03 is impossible for any n <= 41."""
    checks = {c.name: c for c in audit.inconsistencies(load_published(repo_root / "data" / "published.yaml"))}
    prisma = checks["PRISMA: assessed - excluded = included"]
    assert (prisma.ok, prisma.expected, prisma.actual) == (False, 122, 121)
    other = checks["'other' backbone studies (Backbone model) = 'minor models' excluded from Fig. 6"]
    assert (other.ok, other.expected, other.actual) == (False, 7, 9)
    auc = checks["Spearman auc: p implied by r and n <= 41"]
    assert auc.ok is False and auc.expected > 0.5 and auc.actual == 0.03
    assert checks["Spearman accuracy: p implied by r and n <= 41"].ok is False
    for name in ("backbone categories add up to the included studies", "TL types add up to the included studies",
                 "deep = Inception + ResNet + Inception-ResNet", "shallow = AlexNet + VGG",
                 "Fig. 6 subset + exclusions = included studies"):
        assert checks[name].ok is True, name
    assert checks["Table 1 GoogLeNet: parameters (all) > parameters (FE only) with 1 FC layer(s)"].ok is False


def test_published_yaml_entries_carry_their_source(repo_root):
    pub = load_published(repo_root / "data" / "published.yaml")
    assert len(pub.numbers) >= 30
    assert all(n.where and n.quote for n in pub.numbers)
    assert pub.value("family.other") == 7 and pub.value("fig6.excluded_minor_models") == 9


def test_malformed_published_file_names_the_entry(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("numbers:\n  - {key: a, label: a, value: many, where: w, quote: q}\n")
    with pytest.raises(PublishedError, match=r"numbers\[0\] \(a\): value 'many' is not a number"):
        load_published(path)


def test_cli_json_and_strict(capsys):
    rc = main(["audit", "--csv", str(STUDIES), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["rows"] == 12
    assert {"key", "published", "recomputed", "difference", "coverage_n", "status"} <= set(doc["numbers"][0])
    assert sum(doc["summary"].values()) == len(doc["numbers"])
    assert any(c["name"] == "PRISMA: assessed - excluded = included" and c["ok"] is False
               for c in doc["inconsistencies"])
    assert main(["audit", "--csv", str(STUDIES), "--strict"]) == 1
    assert "FLAG Spearman auc" in capsys.readouterr().out
