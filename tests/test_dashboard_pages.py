"""Every dashboard page under `streamlit.testing.v1.AppTest`, pointed at temporary inputs via TLMI_* variables."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from test_dashboard_sources import STUDIES, make_store, make_studies, store_rows

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
PAGES = APP.parent / "app_pages"
TIMEOUT = 60


@pytest.fixture(autouse=True)
def server_address():
    """The address Streamlit reports as bound (AppTest has no server): localhost, as `dashboard` binds it."""
    from streamlit import config

    old = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield config
    config.set_option("server.address", old)


@pytest.fixture
def inputs(tmp_path, monkeypatch, repo_root):
    """Studies CSV + results store in tmp, exported the way a user (or `dashboard --studies`) would."""
    for var in ("TLMI_ALLOW_WRITES", "TLMI_ALLOW_PATH_EDIT", "TLMI_DATA_ROOTS"):
        monkeypatch.delenv(var, raising=False)
    studies = make_studies(tmp_path / "studies.csv")
    store = make_store(tmp_path / "runs" / "test" / "results.sqlite", n=40, failed=1)
    monkeypatch.setenv("TLMI_STUDIES_CSV", str(studies))
    monkeypatch.setenv("TLMI_RESULTS", str(tmp_path / "runs"))
    monkeypatch.setenv("TLMI_TABLE2_CSV", str(repo_root / "data" / "ho_kim_2021_table2.csv"))
    monkeypatch.setenv("TLMI_PRISMA", str(repo_root / "data" / "prisma.csv"))
    return {"studies": studies, "store": store, "tmp": tmp_path}


def page(name: str, **state) -> AppTest:
    """Run one page script; `state` presets session state (e.g. which lazy tab is open)."""
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def texts(at: AppTest, kind: str) -> list[str]:
    """The markdown of every element of a kind, with backslash escapes removed (as the browser shows it)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in getattr(at, kind)]


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# --------------------------------------------------------------------- navigation
@pytest.mark.slow
def test_app_runs_and_switches_to_every_page(inputs):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["lit_tab"] = "Studies"  # the figure tabs are covered (slow) below
    at.run()
    no_failure(at)
    assert at.title[0].value == "Literature"
    for name, title in (("add_study", "Add a study"), ("experiments", "Experiments"),
                        ("side_by_side", "Side by side")):
        at.switch_page(f"app_pages/{name}.py").run()
        no_failure(at)
        assert at.title[0].value == title
    # the sidebar shows the paths the TLMI_* variables chose, read-only (no input to change them)
    assert any(str(inputs["studies"]) in m.value for m in at.sidebar.markdown)
    assert not at.sidebar.text_input
    assert any("Adding studies: **on**" in c.value for c in at.sidebar.caption)


# --------------------------------------------------------------------- literature
def test_literature_filters_change_what_is_shown(inputs):
    at = page("literature", lit_tab="Studies")
    no_failure(at)
    count = next(m.value for m in at.markdown if "studies match" in m.value)
    assert count.startswith(f"**{len(STUDIES)}** of {len(STUDIES)}")
    assert len(at.dataframe[0].value) == len(STUDIES)
    at.multiselect(key="lit_modality").select("X-ray").run()
    no_failure(at)
    count = next(m.value for m in at.markdown if "studies match" in m.value)
    assert count.startswith(f"**2** of {len(STUDIES)}")
    assert set(at.dataframe[0].value["study_id"]) == {"beta2018", "eps2020"}
    at.slider(key="lit_years").set_value((2020, 2020)).run()
    assert set(at.dataframe[0].value["study_id"]) == {"eps2020"}


@pytest.mark.slow
def test_literature_every_tab_renders(inputs):
    at = page("literature")  # "Figures 4 and 5" is the tab open by default
    no_failure(at)
    assert len(at.get("vega_lite_chart")) == 2  # Figure 4 and Figure 5
    assert [b.label for b in at.get("download_button")][:2] == ["PNG", "SVG"]
    for tab, needle in (("Figure 6: Spearman", "Kept"), ("PRISMA flow", None),
                        ("Audit: published vs recomputed", None)):
        at.session_state["lit_tab"] = tab
        at.run()
        no_failure(at)
        if needle:
            assert any(needle in m.value for m in at.markdown)
        if tab == "Figure 6: Spearman":  # both selections, each metric, next to the published r and p
            results = at.dataframe[0].value
            assert sorted(zip(results["selection"], results["metric"])) == [
                ("all", "accuracy"), ("all", "auc"), ("review", "accuracy"), ("review", "auc")]
            assert "published_r" in results
    # the published PRISMA counts fail 236 - 114 = 121: the page must say so
    at.session_state["lit_tab"] = "PRISMA flow"
    at.run()
    assert any("236" in e and "114" in e and "122" in e for e in texts(at, "warning"))
    assert not texts(at, "error")  # a finding about the paper is a warning; errors mean the app failed


def test_literature_shows_a_bad_csv_as_an_error(inputs, tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    bad.write_text(inputs["studies"].read_text(encoding="utf-8").replace("alpha2017", "Alpha 2017!"),
                   encoding="utf-8")
    monkeypatch.setenv("TLMI_STUDIES_CSV", str(bad))
    at = page("literature")
    no_failure(at)
    errors = texts(at, "error")
    assert len(errors) == 1 and str(bad) in errors[0] and "study_id" in errors[0]


# --------------------------------------------------------------------- add a study
def fill(at: AppTest, **values: str) -> None:
    for name, value in values.items():
        key = f"add_{name}"
        for kind in ("text_input", "text_area"):
            widgets = [w for w in getattr(at, kind) if w.key == key]
            if widgets:
                widgets[0].input(value)
                break
        else:
            at.selectbox(key=key).select(value)


VALID = dict(study_id="newstudy2021", authors="New N; Other O", year="2021", title="A brand new study",
             modality="MRI", tl_type="fine-tuning", accuracy="0.9", source_url="https://doi.org/10.1000/xyz",
             evidence="accuracy: 90 %", coded_by="dashboard test", confidence="medium")


def submit(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Validate and add").click()
    return at.run()


def test_add_study_appends_a_valid_row(inputs):
    before = inputs["studies"].read_text(encoding="utf-8")
    at = page("add_study")
    no_failure(at)
    fill(at, **VALID)
    submit(at)
    no_failure(at)
    assert not texts(at, "error") and "newstudy2021" in texts(at, "success")[0]
    after = inputs["studies"].read_text(encoding="utf-8")
    assert after.startswith(before) and after.count("\n") == before.count("\n") + 1
    from review.store import load_studies

    row = load_studies(inputs["studies"]).set_index("study_id").loc["newstudy2021"]
    assert row["accuracy"] == 0.9 and row["coded_on"] == dt.date.today().isoformat()
    # the same study again is a duplicate: refused, file untouched
    snapshot = inputs["studies"].read_bytes()
    submit(at)
    assert "same study_id" in texts(at, "error")[0]
    assert inputs["studies"].read_bytes() == snapshot


@pytest.mark.parametrize("field, value, needle", [
    ("accuracy", "92.1", "out of range"),          # a percentage where a fraction belongs
    ("year", "twenty", "not an integer"),
    ("source_url", "doi.org/10.1000/xyz", "not a URL"),
])
def test_add_study_rejects_invalid_entry_and_leaves_file_identical(inputs, field, value, needle):
    snapshot = inputs["studies"].read_bytes()
    at = page("add_study")
    fill(at, **{**VALID, field: value})
    submit(at)
    no_failure(at)
    errors = texts(at, "error")
    assert "unchanged" in errors[0] and f"**{field}**" in errors[0]
    # the message sits under the field it is about
    assert any(e.startswith(f"**{field}**") and needle in e for e in errors[1:]), errors
    assert inputs["studies"].read_bytes() == snapshot


def test_add_study_requires_the_required_fields(inputs):
    snapshot = inputs["studies"].read_bytes()
    at = page("add_study")
    submit(at)
    flagged = {e.split("**")[1] for e in texts(at, "error")[1:]}
    assert {"study_id", "title", "authors", "year", "evidence"} <= flagged
    assert inputs["studies"].read_bytes() == snapshot


# --------------------------------------------------------------------- experiments
def test_experiments_filters_change_what_is_shown(inputs):
    at = page("experiments")
    no_failure(at)
    assert not texts(at, "error")
    count = next(m.value for m in at.markdown if "trials match" in m.value)
    assert count.startswith("**40** of 40")
    assert "1 trial(s) failed" in at.expander[0].label
    assert len(at.get("vega_lite_chart")) == 1  # per-class F1 heatmap (the open tab)
    at.multiselect(key="exp_backbone").select("VGG16").run()
    no_failure(at)
    assert next(m.value for m in at.markdown if "trials match" in m.value).startswith("**10** of 40")
    board = at.dataframe[1].value  # [0] = failed trials (in the expander), [1] = leaderboard
    assert set(board["backbone"]) == {"VGG16"}
    assert board["trials"].sum() == sum(r["backbone"] == "VGG16" for r in store_rows(40))
    at.selectbox(key="exp_metric").select("f1_OBS").run()
    no_failure(at)
    assert at.subheader[0].value == "Leaderboard by F1 OBS"


def test_experiments_without_results_says_how_to_run_a_sweep(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("TLMI_RESULTS", str(tmp_path / "empty"))
    at = page("experiments")
    no_failure(at)
    assert "harness sweep configs/quick.yaml" in texts(at, "info")[0]


def test_experiments_malformed_store_is_an_error_not_a_traceback(inputs, tmp_path, monkeypatch):
    bad = tmp_path / "results.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    monkeypatch.setenv("TLMI_RESULTS", str(bad))
    at = page("experiments")
    no_failure(at)
    assert str(bad) in texts(at, "error")[0] and "not a SQLite results store" in texts(at, "error")[0]


# --------------------------------------------------------------------- side by side
def charts_of(at: AppTest) -> list[dict]:
    """The Vega-Lite specs the page sent (AppTest has no chart element of its own)."""
    import json

    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def chart_rows(at: AppTest, chart: int, node: dict):
    """The rows a (layer of a) chart draws: Streamlit sends each named dataset apart, as Arrow."""
    import pyarrow as pa

    proto = at.get("vega_lite_chart")[chart].proto
    name = node["data"]["name"]
    data = next(d.data.data for d in proto.datasets if d.name == name)
    return pa.ipc.open_stream(data).read_all().to_pandas()


def test_side_by_side_charts_per_tl_strategy(inputs):
    at = page("side_by_side")  # "By TL strategy" is the tab open by default
    no_failure(at)
    assert not texts(at, "error")
    spec = charts_of(at)[0]
    assert len(charts_of(at)) == 1 and len(spec["layer"]) == 4  # range, box, median, points
    assert spec["layer"][3]["encoding"]["y"]["sort"][:2] == ["feature extractor · literature",
                                                             "feature extractor · harness"]
    summary = at.dataframe[0].value.set_index(["tl_type", "origin"])
    rows = store_rows(40)
    points = chart_rows(at, 0, spec["layer"][3])  # what the browser draws
    lanes = points["lane"].value_counts()
    assert lanes["fine-tuning · harness"] == sum(r["strategy"] == "partial_finetune" for r in rows)
    assert lanes["fine-tuning · literature"] == 2 and len(points) == 40 + 5  # 5 studies with a TL type + accuracy
    assert summary.loc[("fine-tuning", "literature"), "n"] == 2  # alpha2017, gamma2019
    assert summary.loc[("fine-tuning", "literature"), "median"] == pytest.approx((0.91 + 0.88) / 2)
    assert summary.loc[("fine-tuning", "harness"), "n"] == sum(r["strategy"] == "partial_finetune" for r in rows)
    at.radio(key="sbs_metric").set_value("auc_weighted").run()
    summary = at.dataframe[0].value.set_index(["tl_type", "origin"])
    assert summary.loc[("fine-tuning", "literature"), "median"] == pytest.approx((0.95 + 0.9) / 2)


def test_side_by_side_usage_tables(inputs):
    at = page("side_by_side", sbs_tab="Tables")
    no_failure(at)
    rows = store_rows(40)
    by_tl = at.dataframe[0].value.set_index("tl_type")
    assert by_tl.loc["fine-tuning", "lit_studies"] == 2  # alpha2017, gamma2019
    assert by_tl.loc["fine-tuning", "harness_trials"] == sum(r["strategy"] == "partial_finetune" for r in rows)


def test_side_by_side_table2_dumbbell_per_weights(inputs):
    at = page("side_by_side", sbs_tab="Ho & Kim Table 2")
    no_failure(at)
    assert "did not start from ImageNet" in texts(at, "warning")[0]
    assert len(charts_of(at)) == 1
    dumbbell = at.dataframe[0].value
    rows = store_rows(40)
    vgg0 = dumbbell[dumbbell["label"] == "VGG16 · depth 0"].set_index("weights")
    for weights in vgg0.index:
        expected = [r for r in rows if r["backbone"] == "VGG16" and r["strategy"] == "feature_extractor"
                    and r["weights"] == weights]
        assert vgg0.loc[weights, "trials"] == len(expected) > 0
        assert vgg0.loc[weights, "harness"] == pytest.approx(
            sum(r["metrics"]["test"]["accuracy"] for r in expected) / len(expected))
    assert dumbbell.loc[dumbbell["label"] == "InceptionV3 · depth 0", "trials"].tolist() == [0]
    # the chart shows the matched Table 2 rows unless asked for every one
    def published_rows(at):
        return set(chart_rows(at, 0, charts_of(at)[0]["layer"][2])["label"])

    matched = set(dumbbell.loc[dumbbell["trials"] > 0, "label"])
    assert published_rows(at) == matched and "VGG16 · depth 0" in matched
    at.checkbox(key="sbs_t2_all").check().run()
    assert published_rows(at) == set(dumbbell["label"]) and len(set(dumbbell["label"])) == 21


@pytest.mark.parametrize("tab", ["Data size", "Meta-analysis", "Cost"])
def test_side_by_side_other_tabs_render(inputs, tab):
    at = page("side_by_side", sbs_tab=tab)
    no_failure(at)
    assert not texts(at, "error")
    if tab == "Data size":
        spec = charts_of(at)[0]
        titles = [panel["title"]["text"] for panel in spec["hconcat"]]  # one panel per Figure 6 selection
        assert [t.split(":")[0] for t in titles] == ["review", "all"]


def test_side_by_side_without_results_still_shows_the_literature(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("TLMI_RESULTS", str(tmp_path / "empty"))
    at = page("side_by_side", sbs_tab="Tables")
    no_failure(at)
    assert "harness sweep configs/quick.yaml" in texts(at, "info")[0]
    assert at.dataframe[0].value["lit_studies"].sum() == 5  # every study with a coded TL type ('many' included)
    at = page("side_by_side")
    no_failure(at)
    assert len(charts_of(at)) == 1


@pytest.mark.slow
def test_experiments_page_with_thousands_of_trials(tmp_path, monkeypatch):
    make_store(tmp_path / "big" / "results.sqlite", n=3000)
    monkeypatch.setenv("TLMI_RESULTS", str(tmp_path / "big"))
    page("experiments")  # first visit fills the caches
    at = page("experiments")
    no_failure(at)
    assert next(m.value for m in at.markdown if "trials match" in m.value).startswith("**3000** of 3000")


def test_side_by_side_meta_analysis_tab(inputs):
    """Forest plot per TL type and a chosen moderator, from review.meta on the fixture's studies."""
    from review.meta import meta_analysis
    from review.store import load_studies

    studies = load_studies(inputs["studies"])
    overall = meta_analysis(studies, "accuracy")
    at = page("side_by_side", sbs_tab="Meta-analysis")
    no_failure(at)
    assert not texts(at, "error") and len(charts_of(at)) == 2  # forest plot, coefficients
    spec = charts_of(at)[0]
    rows = chart_rows(at, 0, spec)
    pooled = rows[rows["kind"] == "pooled"].set_index("group")
    # fine-tuning (alpha2017, gamma2019) and feature extractor (beta2018, eps2020) have two studies each
    assert list(pooled.index) == ["all studies", "feature extractor", "fine-tuning"]
    assert pooled.loc["all studies", "estimate"] == pytest.approx(overall.pooled["estimate"])
    assert pooled.loc["all studies", "k"] == overall.k == 5
    ft = meta_analysis(studies[studies["tl_type"] == "fine-tuning"], "accuracy")
    assert pooled.loc["fine-tuning", "estimate"] == pytest.approx(ft.pooled["estimate"])
    assert 0.88 < ft.pooled["estimate"] < 0.91  # between its two studies
    caption = next(c for c in texts(at, "caption") if c.startswith("All studies"))
    assert f"k = 5, pooled accuracy {overall.pooled['estimate']:.3f}" in caption
    assert "Too few studies to pool" in caption and "many (k = 1)" in caption
    at.selectbox(key="sbs_moderator").select("modality").run()
    no_failure(at)
    terms = set(at.dataframe[0].value["term"])
    assert "intercept" in terms and any(t.startswith("modality[") for t in terms)
    # 5 studies for 1 + (levels - 1) coefficients: the page says the regression rests on too few studies
    spare = overall.k - len(terms)
    assert any(f"leave {spare} residual degree(s) of freedom" in w for w in texts(at, "warning"))
