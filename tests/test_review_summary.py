"""Figures 4 and 5 tables from a hand-made 12-row CSV, and the `review summary` command."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from review import summary
from review.cli import main
from review.store import load_studies

STUDIES = Path(__file__).parent / "fixtures" / "review_analyses" / "studies.csv"


@pytest.fixture(scope="module")
def df():
    return load_studies(STUDIES)


def test_figure4_counts(df):
    """Years: 2016 alpha; 2017 bravo charlie; 2018 delta echo foxtrot; 2019 golf hotel;
    2020 india juliett kilo; 2021 lima. Categories: multiple alpha; deep bravo delta foxtrot
    hotel juliett kilo lima (7); shallow golf india; other charlie; echo not coded."""
    t = summary.figure4_tables(df)
    assert dict(zip(t["per_year"]["year"], t["per_year"]["n"])) == {
        2016: 1, 2017: 2, 2018: 3, 2019: 2, 2020: 3, 2021: 1}
    cat = summary.overall(t["backbone_category"], "backbone_category")
    assert dict(zip(cat["backbone_category"], cat["n"])) == {
        "multiple": 1, "deep": 7, "shallow": 2, "other": 1, "not coded": 1}
    per_year = t["tl_type"].set_index(["year", "tl_type"])["n"]
    assert per_year[(2020, "feature extractor")] == 2 and per_year[(2016, "many")] == 1
    assert per_year[(2021, "fine-tuning")] == 0  # zeros are kept: tidy and complete
    fam = summary.overall(t["backbone_family"], "backbone_family")
    assert dict(zip(fam["backbone_family"], fam["n"]))["Inception"] == 5


def test_figure5_counts(df):
    """Data quantity (patients for CT/MRI/microscopy, else images): 1000 50 80 500 300 200
    400 900 1600 1000 3000, lima none. Bins of 600: [0,600) 6, [600,1200) 3,
    [1200,1800) 1, [1800,3000) 0, [3000,3600) 1."""
    t = summary.figure5_tables(df)
    assert list(t["data_size"]["n"]) == [6, 3, 1, 0, 0, 1]
    assert list(t["data_size"]["bin_left"]) == [0, 600, 1200, 1800, 2400, 3000]
    assert dict(zip(t["n_classes"]["n_classes"], t["n_classes"]["n"])) == {2: 9, 3: 2, 4: 1}
    ms = t["modality_subject"].set_index(["modality", "subject"])["n"]
    assert ms[("X-ray", "respiratory system")] == 3  # alpha, foxtrot, lima
    assert ("many", "many") not in ms.index          # delta is left out, as in the review
    left = t["left_out"].set_index("figure")["rows_left_out"]
    assert left["5a"] == 1 and left["5c"] == 1


def test_histogram_bin_width_is_a_parameter():
    import pandas as pd

    h = summary.histogram(pd.Series([0, 99, 100, 250]), bin_width=100)
    assert list(h["n"]) == [2, 1, 1]


def test_cli_json_and_figures(tmp_path, capsys):
    rc = main(["summary", "--csv", str(STUDIES), "--out", str(tmp_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["n_studies"] == 12
    assert doc["figure4"]["backbone_category"]["overall"]["deep"] == 7
    assert doc["figure5"]["data_size"][0] == {"bin_left": 0, "bin_right": 600, "n": 6}
    for name in ("figure4.png", "figure4.svg", "figure5.png", "figure5.svg"):
        assert (tmp_path / name).stat().st_size > 0


def test_cli_text_and_invalid_csv(tmp_path, capsys):
    assert main(["summary", "--csv", str(STUDIES)]) == 0
    assert "Figure 4a  studies per year: 2016: 1" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(STUDIES.read_text().replace(",2016,", ",20x6,", 1))
    assert main(["summary", "--csv", str(bad)]) == 2
    assert "year" in capsys.readouterr().err


def _panel_letters(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_fontweight() == "bold"]


def test_figures_4_and_5_have_the_papers_panels(df):
    """Figure 4: a/b/c with years on the y axis (earliest on top), the codebook's categories in
    order and 'not coded' kept; Figure 5: a/b/c with the 0-600 first bin."""
    from review.plotting import pyplot

    fig = summary.figure4(df)
    assert _panel_letters(fig) == ["a", "b", "c"]
    low, high = fig.axes[0].get_ylim()
    assert low > high  # inverted: 2016 on top
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels == ["multiple", "deep", "shallow", "other", "not coded"]
    pyplot().close(fig)
    fig = summary.figure5(df)
    assert _panel_letters(fig)[:3] == ["a", "b", "c"]
    assert fig.axes[2].get_xticklabels()[0].get_text() == "0-600"
    pyplot().close(fig)


def test_histogram_bars_fold_the_tail_into_one_bar():
    import pandas as pd

    table = summary.histogram(pd.Series([10, 700, 5000, 100000]))
    bars = summary.histogram_bars(table, max_bars=4)
    assert list(bars["bin"]) == ["0-600", "600-1200", "1200-1800", ">= 1800"]
    assert list(bars["n"]) == [1, 1, 0, 2] and bars["n"].sum() == 4
