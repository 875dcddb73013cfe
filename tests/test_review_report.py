"""`review report --out DIR`: every figure (PNG + SVG), audit.csv and a Markdown report."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from review.cli import main
from review.report import md_table, write_text_atomic

FIX = Path(__file__).parent / "fixtures" / "review_analyses"


@pytest.mark.slow  # renders 4 figures twice: ~4 s alone, more on a busy machine
def test_report_writes_figures_and_markdown(tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(["report", "--out", str(out), "--csv", str(FIX / "studies.csv"),
               "--counts", str(FIX / "prisma_template.csv"), "--bootstrap", "50", "--seed", "1", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["failed_prisma_checks"] == 0 and doc["published_inconsistencies"] >= 4
    stems = ("prisma", "figure4", "figure5", "figure6", "figure6-all")
    for stem in stems:
        for ext in ("png", "svg"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0
            assert (out / f"{stem}.{ext}").stat().st_mode & 0o777 == 0o644  # like report.md
    text = (out / "report.md").read_text()
    links = set(re.findall(r"\]\(([^)]+)\)", text))
    assert {f"{s}.{e}" for s in stems for e in ("png", "svg")} <= links
    assert all((out / link).exists() for link in links if not link.startswith("http"))
    assert "12 rows, SHA-256" in text and "50 resamples, seed 1" in text
    assert "236 - 114 = 122" in text  # the published flow's own inconsistency is reported
    # Spearman under both selections, side by side, next to the published r and p (0.05, 0.03)
    header = next(line for line in text.splitlines() if line.startswith("| metric | review: n"))
    assert "| all: r |" in header and header.endswith("| published r | published p |")
    auc_row = next(line for line in text.splitlines() if line.startswith("| auc | 5 | 0.8 |"))
    assert auc_row.endswith("| 0.05 | 0.03 |")
    assert "review, accuracy: too few studies (n = 4 < 5)" in text
    assert (out / "audit.csv").read_text().startswith("key,label,where,published")
    assert not list(out.glob(".*.tmp"))  # no temp files left behind


def test_report_needs_readable_inputs(tmp_path, capsys):
    rc = main(["report", "--out", str(tmp_path), "--csv", str(FIX / "studies.csv"),
               "--counts", str(tmp_path / "missing.csv")])
    assert rc == 2 and "no such counts file" in capsys.readouterr().err


def test_md_table_and_atomic_write(tmp_path):
    import pandas as pd

    table = md_table(pd.DataFrame({"a": [1, None], "b": ["x|y", "z"]}))
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |", "| - | z |"]
    target = write_text_atomic(tmp_path / "r.md", "hello\n")
    assert target.read_text() == "hello\n" and [p.name for p in tmp_path.iterdir()] == ["r.md"]
