"""Who can read and write what (issue 15): server-side paths, data roots, network mode, formula cells, signals."""
from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.request

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import cli, widgets
from dashboard.settings import Access, PathRefused, check_path, is_loopback
from test_dashboard_pages import APP, PAGES, TIMEOUT, inputs, server_address  # noqa: F401 (fixtures)
from test_dashboard_sources import STUDIES, make_studies


# ------------------------------------------------------------------ path policy
def test_paths_under_a_root_are_accepted_resolved(tmp_path):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    assert check_path(root / "sub" / "s.csv", (root,)) == (root / "sub" / "s.csv").resolve()
    assert check_path("sub/s.csv", (root,), base=root) == (root / "sub" / "s.csv").resolve()
    assert check_path(root, (root,)) == root.resolve()


@pytest.mark.parametrize("value, needle", [
    ("/etc/passwd", "outside the data roots"),
    ("{root}/../secret.csv", "'..' is not allowed"),
    ("{root}/sub/../../secret.csv", "'..' is not allowed"),
    ("{root}x/studies.csv", "outside the data roots"),   # a sibling whose name starts like the root
    ("{root}/link/passwd", "resolves to"),               # symlink pointing out of the root
    ("{root}/\x00.csv", "NUL"),
])
def test_paths_outside_the_roots_are_refused(tmp_path, value, needle):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "datax").mkdir()
    (root / "link").symlink_to("/etc")
    with pytest.raises(PathRefused, match=needle) as err:
        check_path(value.format(root=root), (root,))
    assert str(root) in str(err.value) or "NUL" in str(err.value)  # the message says what is allowed


@pytest.mark.parametrize("address, local", [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                            ("::", False), ("192.168.1.5", False), ("", False), (None, False),
                                            ("example.org", False)])
def test_loopback_addresses(address, local):
    assert is_loopback(address) is local


def test_access_policy_from_the_server_options(tmp_path):
    env = {"TLMI_STUDIES_CSV": str(tmp_path / "d" / "s.csv"), "TLMI_RESULTS": str(tmp_path / "runs")}
    assert Access.from_env("127.0.0.1", env).writes
    assert not Access.from_env("0.0.0.0", env).writes
    assert not Access.from_env(None, env).writes  # Streamlit's default binds every interface
    assert Access.from_env("0.0.0.0", {**env, "TLMI_ALLOW_WRITES": "1"}).writes
    assert not Access.from_env("127.0.0.1", {**env, "TLMI_ALLOW_PATH_EDIT": "0"}).allow_path_edit
    default = Access.from_env("127.0.0.1", env)
    assert (tmp_path / "d").resolve() in default.data_roots and (tmp_path / "runs").resolve() in default.data_roots
    chosen = Access.from_env("127.0.0.1", {**env, "TLMI_DATA_ROOTS": f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"})
    assert chosen.data_roots == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())


# ------------------------------------------------------------------ launcher
def test_launcher_options_become_server_configuration(tmp_path):
    args = cli.build_parser().parse_args(["--host", "0.0.0.0", "--allow-writes", "--allow-path-edit",
                                          "--data-root", str(tmp_path / "a"), "--data-root", str(tmp_path / "b"),
                                          "--studies", str(tmp_path / "a" / "s.csv")])
    env = cli.environment(args, base={"TLMI_ALLOW_WRITES": "1", "TLMI_DATA_ROOTS": "/"})
    assert env["TLMI_ALLOW_WRITES"] == "1" and env["TLMI_ALLOW_PATH_EDIT"] == "1"
    assert env["TLMI_DATA_ROOTS"].split(os.pathsep) == [str(tmp_path / "a"), str(tmp_path / "b")]
    cmd = cli.command(9000, host=args.host)
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0"
    assert any("adding studies on" in line for line in cli.describe(args, env))
    assert any("WARNING" in line for line in cli.describe(args, env))
    # defaults: a variable left in the caller's shell cannot open what the command line did not
    plain = cli.environment(cli.build_parser().parse_args([]), base={"TLMI_ALLOW_WRITES": "1",
                                                                     "TLMI_ALLOW_PATH_EDIT": "1",
                                                                     "TLMI_DATA_ROOTS": "/"})
    assert plain["TLMI_ALLOW_WRITES"] == "0" and plain["TLMI_ALLOW_PATH_EDIT"] == "0"
    assert "TLMI_DATA_ROOTS" not in plain
    network = cli.build_parser().parse_args(["--host", "0.0.0.0"])
    assert any("adding studies off" in line for line in cli.describe(network, cli.environment(network, base={})))


def test_repository_streamlit_config_is_localhost_without_statistics(repo_root):
    config = tomllib.loads((repo_root / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False


@pytest.mark.slow
def test_streamlit_run_from_the_checkout_reads_that_config(repo_root):
    """What `streamlit run dashboard/app.py` resolves, asked of Streamlit itself (not of the TOML)."""
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=repo_root,
                           capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    text = shown.stdout
    assert shown.returncode == 0, shown.stderr
    assert 'address = "127.0.0.1"' in text and "gatherUsageStats = false" in text


# ------------------------------------------------------------------ the pages
def run_app(**state) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_browser_cannot_point_the_app_elsewhere_without_the_option(inputs):
    """A path sent from the browser (session state) is ignored unless --allow-path-edit."""
    other = make_studies(inputs["tmp"] / "other.csv")
    at = run_app(lit_tab="Studies", path_studies="/etc/passwd")
    assert not at.exception and not at.sidebar.text_input
    assert any(f"**{len(STUDIES)}** of {len(STUDIES)}" in m.value for m in at.markdown)
    assert not [e for e in at.error if "passwd" in e.value]
    at = run_app(lit_tab="Studies", path_studies=str(other))
    assert widgets.Paths.from_env().studies == inputs["studies"]  # nothing changed on the server side


def test_path_edit_accepts_files_under_the_roots_only(inputs, monkeypatch):
    monkeypatch.setenv("TLMI_ALLOW_PATH_EDIT", "1")
    monkeypatch.setenv("TLMI_DATA_ROOTS", str(inputs["tmp"]))
    smaller = inputs["tmp"] / "smaller.csv"
    rows = inputs["studies"].read_text(encoding="utf-8").splitlines()
    smaller.write_text("\n".join(rows[:3]) + "\n", encoding="utf-8")  # header + 2 studies
    at = run_app(lit_tab="Studies")
    assert at.sidebar.text_input(key="path_studies").value == str(inputs["studies"])
    at.sidebar.text_input(key="path_studies").input(str(smaller)).run()
    assert not at.exception
    assert any(m.value.startswith("**2** of 2") for m in at.markdown)
    for bad in ("/etc/passwd", f"{inputs['tmp']}/../etc/passwd"):
        at.sidebar.text_input(key="path_studies").input(bad).run()
        assert not at.exception
        errors = [e.value for e in at.sidebar.error]
        assert len(errors) == 1 and "Not used" in errors[0] and str(inputs["tmp"]) in errors[0]
        assert any(m.value.startswith(f"**{len(STUDIES)}** of") for m in at.markdown)  # configured CSV kept


def test_network_server_makes_add_study_read_only(inputs, server_address, monkeypatch):
    server_address.set_option("server.address", "0.0.0.0")
    before = inputs["studies"].read_bytes()
    at = AppTest.from_file(str(PAGES / "add_study.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "Read-only mode" in at.warning[0].value and "0.0.0.0" in at.warning[0].value
    assert not at.button and not at.text_input  # no form at all
    assert inputs["studies"].read_bytes() == before
    monkeypatch.setenv("TLMI_ALLOW_WRITES", "1")
    at = AppTest.from_file(str(PAGES / "add_study.py"), default_timeout=TIMEOUT).run()
    assert not at.warning and "Mode: adding studies is on" in at.caption[0].value
    assert "--allow-writes" in at.caption[0].value


# ------------------------------------------------------------------ formula cells
def test_csv_downloads_neutralise_formula_cells():
    hostile = ["=HYPERLINK(\"http://x\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "plain",
               "a=b", "-0.5"]
    frame = pd.DataFrame({"title": hostile, "value": [0.5, -1.0, 2, 3, 4, 5, 6, 7, 8], "=cmd": [""] * 9})
    data = widgets.csv_bytes(frame)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["title", "value", "'=cmd"]
    titles = [r[0] for r in rows[1:]]
    assert titles[:6] == ["'" + h for h in hostile[:6]]
    assert titles[6:] == ["plain", "a=b", "-0.5"]  # a number written as text stays a number
    from review.spreadsheet import restore

    assert [restore(t) for t in titles] == hostile  # the guard is the review's, and reversible
    assert [float(r[1]) for r in rows[1:]] == frame["value"].tolist()  # numbers stay numbers, -1.0 included
    assert frame["title"].tolist() == hostile  # the shown frame is untouched


# ------------------------------------------------------------------ the server's life
def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_sigterm_to_dashboard_leaves_nothing_listening(tmp_path):
    from dashboard.headless import free_port, wait_until_up

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "--port", str(port),
                             "--results", str(tmp_path / "runs")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    children: list[int] = []
    try:
        wait_until_up(port, proc)
        children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc.pid]
        # `dashboard` became the server: the same process serves the port and has no child process
        cmdline = open(f"/proc/{proc.pid}/cmdline", "rb").read().split(b"\0")
        assert b"dashboard.server" in cmdline and str(cli.APP).encode() in cmdline and children == []
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
            assert response.read() == b"ok"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert not _port_open(port)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pid in children:  # a regression must not leave its orphaned server behind either
            try:
                if str(cli.APP).encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
    assert "serving on http://localhost" in proc.stderr.read()


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
