"""The `dashboard` launcher, the shipped Table 2 data and the screenshot script."""
from __future__ import annotations

import csv
import re
import os
import shutil
import sys

import pytest

from dashboard import cli, screenshots
from dashboard.settings import Paths


def test_launcher_binds_localhost_and_exports_paths(tmp_path):
    cmd = cli.command(8765)
    assert cmd[:4] == [sys.executable, "-m", "dashboard.server", "run"] and cmd[4].endswith("dashboard/app.py")
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    args = cli.build_parser().parse_args(["--studies", str(tmp_path / "s.csv"), "--results", "runs"])
    env = cli.environment(args, base={})
    assert env["TLMI_STUDIES_CSV"] == str(tmp_path / "s.csv") and env["TLMI_RESULTS"].endswith("runs")
    assert "TLMI_TABLE2_CSV" not in env


def test_paths_from_env_and_overrides(tmp_path):
    paths = Paths.from_env({"TLMI_RESULTS": str(tmp_path), "TLMI_STUDIES_CSV": "  "})
    assert paths.results == tmp_path and paths.studies == Paths.defaults().studies  # blank = default
    assert paths.replace(studies=str(tmp_path / "x.csv"), table2="").studies == tmp_path / "x.csv"
    with pytest.raises(KeyError, match="unknown dashboard path"):
        paths.replace(nothing="x")


def test_package_code_never_reads_shared(repo_root):
    for path in (repo_root / "dashboard").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and '"shared"' not in text and "SHARED" not in text, path


def test_table2_csv_matches_the_paper(repo_root, shared_dir):
    """Every number of data/ho_kim_2021_table2.csv against the table in the paper's text (seed 000)."""
    seed = (shared_dir / "seeds" / "000_6ae6a662fb626bd7.txt").read_text(encoding="utf-8").splitlines()
    printed = [line.split("\t") for line in seed if line.count("\t") == 7 and line[:1].isalpha()]
    printed = [p for p in printed if p[0] != "Base network"]
    with (repo_root / "data" / "ho_kim_2021_table2.csv").open(encoding="utf-8") as handle:
        shipped = list(csv.DictReader(handle))
    assert len(printed) == len(shipped) == 21
    for row, cells in zip(shipped, printed):
        assert row["model"] == cells[0] and (row["depth"] or "–") == cells[1]
        values = [row[k] for k in ("f1_OAP", "f1_IN", "f1_OBS", "auc_weighted", "accuracy", "soft_accuracy")]
        assert values == cells[2:], row["model"]
        assert "Table 2" in row["source"] and "10.1038/s41598-021-81525-9" in row["source"]


@pytest.mark.slow
def test_screenshot_command(tmp_path):
    """The command end to end on two pages (tests/test_dashboard_browser.py visits every page)."""
    pytest.importorskip("playwright")
    if shutil.which("chromium") is None and not os.environ.get("TLMI_REQUIRE_BROWSER"):
        pytest.skip("Chromium is not installed")
    out = tmp_path / "shots"
    code = screenshots.main(["--out", str(out), "--results", str(tmp_path / "no-runs"), "--timeout", "90",
                             "--pages", "add-study", "side-by-side-tables"])
    assert code == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["add-study.png", "side-by-side-tables.png"]
    for png in out.glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > screenshots.MIN_PNG_BYTES
    with pytest.raises(SystemExit) as exit_:
        screenshots.main(["--out", str(out), "--pages", "nonsense"])
    assert exit_.value.code == 2


# ------------------------------------------------------------------ the server process's warm-up
def test_warm_pages_are_the_apps_pages_default_first(repo_root):
    from dashboard import server

    app = (repo_root / "dashboard" / "app.py").read_text(encoding="utf-8")
    registered = re.findall(r'st\.Page\("([^"]+)"', app)
    default = re.search(r'st\.Page\("([^"]+)"[^)]*default=True', app).group(1)
    assert sorted(server.WARM_PAGES) == sorted(registered) and server.WARM_PAGES[0] == default


def test_warm_renders_pages_and_reports_a_failing_one_without_leaving_a_runtime(tmp_path):
    from streamlit.runtime import Runtime

    from dashboard import server

    (tmp_path / "app.py").write_text(
        "import streamlit as st\n"
        "st.navigation([st.Page('ok.py', default=True), st.Page('bad.py'), st.Page('slow.py')]).run()\n")
    (tmp_path / "ok.py").write_text("import streamlit as st\nst.write('fine')\n")
    (tmp_path / "bad.py").write_text("raise ValueError('broken input file')\n")
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(2)\n")
    assert server.warm(tmp_path / "app.py", pages=["ok.py"]) is None
    assert server.warm(tmp_path / "app.py", pages=["ok.py", "bad.py"]) == "bad.py: broken input file"
    problem = server.warm(tmp_path / "app.py", pages=["ok.py", "slow.py"], timeout_s=0.5)
    assert problem and "timed out" in problem
    assert not Runtime.exists()  # the real server could start: it registers its own runtime


def test_streamlit_config_is_parsed_with_the_servers_flags():
    from streamlit import config
    from streamlit.web import bootstrap

    from dashboard import server

    try:
        server.load_streamlit_config(["app.py", "--server.address", "10.1.2.3", "--server.port", "8765"])
        assert config.get_option("server.address") == "10.1.2.3" and config.get_option("server.port") == 8765
    finally:
        bootstrap.load_config_options({})
    assert config.get_option("server.port") != 8765
