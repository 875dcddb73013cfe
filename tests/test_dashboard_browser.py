"""The dashboard in a real browser (Playwright driving Debian's chromium), one server for the whole module.

The server gets a copy of the full studies CSV (so Add-a-study writes to a
temporary file) and a results store of 10,000 generated trials. The first
test visits every page and lazy tab in a fresh browser session each, checks
that none shows an error or logs a console error, and prints how long each
took to render (the lead re-measures on a quiet machine).
"""
from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboard import headless, screenshots
from test_dashboard_sources import make_store

pytestmark = pytest.mark.slow
N_TRIALS = 10_000
FIRST_RENDER_BUDGET_S = 3.0
#: Streamlit's frontend looks for its server under the page's own path first (/<page>/_stcore/...),
#: then under the root: those two probes answer 404 by design and are not errors of this app
STREAMLIT_PROBES = re.compile(r"/[^/]+/_stcore/(health|host-config)$")


def _browser_or_skip() -> None:
    try:
        headless.find_chromium()
        import playwright  # noqa: F401
    except (RuntimeError, ImportError) as exc:
        if os.environ.get("TLMI_REQUIRE_BROWSER"):  # CI installs chromium: there, a missing browser is a failure
            pytest.fail(f"browser tests cannot run: {exc}")
        pytest.skip(f"browser tests need Chromium and Playwright: {exc}")


@dataclass
class App:
    port: int
    browser: Any
    studies: Path
    tmp: Path

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def page(self) -> Any:
        """A page in a fresh browser session, recording console errors and uncaught exceptions."""
        context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: page.console_errors.append(msg) if msg.type == "error" and not
                STREAMLIT_PROBES.search(msg.location.get("url", "")) else None)
        page.on("pageerror", lambda exc: page.console_errors.append(exc))
        return page


@pytest.fixture(scope="module")
def app(tmp_path_factory, repo_root):
    _browser_or_skip()
    tmp = tmp_path_factory.mktemp("browser")
    studies = tmp / "data" / "studies.csv"
    studies.parent.mkdir()
    shutil.copyfile(repo_root / "data" / "studies.csv", studies)
    make_store(tmp / "runs" / "big" / "results.sqlite", n=N_TRIALS, failed=3)
    env = {**os.environ, "TLMI_STUDIES_CSV": str(studies), "TLMI_RESULTS": str(tmp / "runs"),
           "TLMI_TABLE2_CSV": str(repo_root / "data" / "ho_kim_2021_table2.csv"),
           "TLMI_PRISMA": str(repo_root / "data" / "prisma.csv"), "MPLBACKEND": "Agg"}
    with headless.serve(env) as port, headless.chromium() as browser:
        yield App(port, browser, studies, tmp)


def close(page: Any) -> None:
    page.context.close()


def chart_data(page: Any, mark: str = "bar") -> list[dict[str, str]]:
    """The data behind a chart's marks, from the accessibility labels Vega gives each SVG mark."""
    labels = page.eval_on_selector_all(f'[data-testid="stVegaLiteChart"] [aria-roledescription="{mark}"]',
                                       "els => els.map(e => e.getAttribute('aria-label'))")
    return [dict(part.split(": ", 1) for part in label.split("; ")) for label in labels if label]


# ------------------------------------------------------------------ every page, timed
def test_every_page_renders_without_errors_in_time(app, capsys):
    """Run first, on the fresh server: each page and lazy tab opened for the first time, by URL, in one browser.

    The first page also pays the server's imports and loading the studies; the
    first page that needs the trials pays reading the 10,000-trial store. The
    time is from navigation to the page's last element (see headless.open_rendered).
    """
    page = app.page()
    timings = []
    try:
        for stem, path in screenshots.PAGES:
            seconds = headless.open_rendered(page, app.url(path), timeout_s=120)
            shown = headless.problems(page)
            assert not shown, f"{stem}: {shown}"
            assert not page.console_errors, f"{stem}: {[str(getattr(e, 'text', e)) for e in page.console_errors]}"
            timings.append((stem, seconds))
    finally:
        close(page)
    load = os.getloadavg()
    cores = os.cpu_count() or 1
    with capsys.disabled():
        print(f"\nfirst render per page ({N_TRIALS} trials, full studies CSV; load average {load[0]:.2f} "
              f"{load[1]:.2f} {load[2]:.2f} on {cores} cores):")
        for stem, seconds in timings:
            print(f"  {stem:26s} {seconds:5.2f} s")
    # The goal (issue 14) is FIRST_RENDER_BUDGET_S per page on this 2-core machine: the timings
    # above are the measurement, reported with their load. The suite fails only on a clear
    # regression, twice the goal (scaled with contention): a speed goal checked to the tenth
    # of a second would fail CI on a busy machine, not on slow code.
    limit = 2 * FIRST_RENDER_BUDGET_S * max(1.0, load[0] / cores)
    slow = [(stem, round(s, 2)) for stem, s in timings if s > limit]
    assert not slow, f"over {limit:.1f} s (twice the {FIRST_RENDER_BUDGET_S} s goal): {slow}"


def test_experiments_with_thousands_of_trials(app):
    page = app.page()
    try:
        headless.open_rendered(page, app.url("experiments"), timeout_s=120)
        main = page.locator('[data-testid="stMain"]')
        assert f"{N_TRIALS} of {N_TRIALS} trials match" in main.inner_text()
        assert "3 trial(s) failed" in main.inner_text()
        assert page.locator('[data-testid="stDataFrame"]').count() >= 1
        assert not headless.problems(page) and not page.console_errors
    finally:
        close(page)


# ------------------------------------------------------------------ a filter changes a figure's data
def test_filter_changes_the_figure_data(app):
    from review.store import load_studies

    studies = load_studies(app.studies)
    page = app.page()
    try:
        headless.open_rendered(page, app.url(), timeout_s=120)
        per_year = [d for d in chart_data(page) if set(d) == {"year", "studies", "n"}]
        expected_all = studies["year"].value_counts().sort_index()
        assert {int(d["year"]): int(d["n"]) for d in per_year} == expected_all.to_dict()

        combo = page.locator('[data-testid="stMultiSelect"]').filter(has_text="modality").get_by_role("combobox")
        combo.click()
        page.get_by_role("option", name="CT", exact=True).click()
        page.keyboard.press("Escape")
        headless.wait_rendered(page, 60)
        per_year = [d for d in chart_data(page) if set(d) == {"year", "studies", "n"}]
        ct = studies.loc[studies["modality"] == "CT", "year"].value_counts().sort_index()
        assert {int(d["year"]): int(d["n"]) for d in per_year} == ct.to_dict() != expected_all.to_dict()
        assert f"{int(ct.sum())} of {len(studies)} studies match" in page.inner_text(
            '[data-testid="stMain"]')
    finally:
        close(page)


# ------------------------------------------------------------------ add a study
STUDY = {"study_id": "browser2024", "authors": "Browser B; Tester T", "year": "2024",
         "title": "A study added from a real browser", "modality": "MRI", "tl_type": "fine-tuning",
         "accuracy": "0.9", "source_url": "https://doi.org/10.1000/browser", "evidence": "accuracy: '90 %'",
         "coded_by": "browser test", "confidence": "medium"}


def fill_form(page: Any, values: dict[str, str]) -> None:
    """Type text fields and choose drop-down values the way a user does."""
    for name, value in values.items():
        label = f"{name} *" if page.get_by_label(f"{name} *", exact=True).count() else name
        field = page.get_by_label(label, exact=True)
        if field.get_attribute("role") == "combobox":
            field.click()
            field.press_sequentially(value)  # filters the list, so the option is in view
            page.get_by_role("option", name=value, exact=True).click()
        else:
            field.fill(value)


def submit(page: Any) -> str:
    page.get_by_role("button", name="Validate and add").click()
    headless.wait_rendered(page, 60)
    return page.inner_text('[data-testid="stMain"]')


def test_add_a_valid_study_then_a_duplicate_then_an_invalid_value(app):
    from review.store import load_studies

    before = app.studies.read_text(encoding="utf-8")
    page = app.page()
    try:
        headless.open_rendered(page, app.url("add-study"), timeout_s=120)
        assert "Mode: adding studies is on" in page.inner_text('[data-testid="stMain"]')
        fill_form(page, STUDY)
        shown = submit(page)
        assert "Added browser2024" in shown
        after = app.studies.read_text(encoding="utf-8")
        assert after.startswith(before) and after.count("\n") == before.count("\n") + 1
        row = load_studies(app.studies, validate=True).set_index("study_id").loc["browser2024"]
        assert row["title"] == STUDY["title"] and row["accuracy"] == 0.9 and row["tl_type"] == "fine-tuning"

        snapshot = app.studies.read_bytes()
        shown = submit(page)  # the same study again
        assert "same study_id as existing study 'browser2024'" in shown
        assert app.studies.read_bytes() == snapshot

        fill_form(page, {"study_id": "browser2025", "title": "Another one", "accuracy": "92.1"})
        shown = submit(page)
        assert "is unchanged" in shown
        messages = page.locator('[data-testid="stForm"] [data-testid="stAlertContentError"]').all_inner_texts()
        assert len(messages) == 1 and messages[0].startswith("accuracy (92.1)") and "range" in messages[0]
        assert app.studies.read_bytes() == snapshot
    finally:
        close(page)


def test_concurrent_adds_from_two_browsers_and_two_cli_processes_all_land(app, tmp_path):
    """Everyone waits on the CSV's lock while the test holds it; released at once, all four must land."""
    from filelock import FileLock

    from review.store import load_studies

    rows_before = len(load_studies(app.studies, validate=False))
    studies = {f"race{i}2024": {**STUDY, "study_id": f"race{i}2024", "title": f"Concurrent study {i}",
                                "source_url": f"https://doi.org/10.1000/race{i}"} for i in range(4)}
    pages = [app.page(), app.page()]
    procs: list[subprocess.Popen] = []
    try:
        for page, (sid, values) in zip(pages, list(studies.items())[:2]):
            headless.open_rendered(page, app.url("add-study"), timeout_s=120)
            fill_form(page, values)
        lock = FileLock(str(app.studies.with_name(app.studies.name + ".lock")))
        with lock:
            for sid, values in list(studies.items())[2:]:
                record = tmp_path / f"{sid}.json"
                record.write_text(json.dumps({k: v for k, v in values.items()}), encoding="utf-8")
                procs.append(subprocess.Popen([sys.executable, "-m", "review.cli", "add", "--csv", str(app.studies),
                                               "--from-json", str(record), "--json"],
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            for page in pages:
                page.get_by_role("button", name="Validate and add").click()
            time.sleep(3)  # the CLI processes start and queue on the lock; the browsers' callbacks are waiting
            assert all(p.poll() is None for p in procs), "a CLI add finished while the lock was held"
        for page in pages:
            headless.wait_rendered(page, 90)
        outputs = [p.communicate(timeout=90) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        for page, sid in zip(pages, studies):
            assert f"Added {sid}" in page.inner_text('[data-testid="stMain"]')
        final = load_studies(app.studies, validate=True)
        assert len(final) == rows_before + 4
        assert set(studies) <= set(final["study_id"])
        assert collections.Counter(final["study_id"]).most_common(1)[0][1] == 1
    finally:
        for page in pages:
            close(page)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
