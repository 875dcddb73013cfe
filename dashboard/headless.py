"""The dashboard in a real browser: serve it on a free localhost port, drive Debian's Chromium with Playwright.

Used by `python -m dashboard.screenshots` and by the end-to-end tests. The
browser is the system's `chromium` (never a downloaded one); a page counts as
rendered when Streamlit says its script finished, the websocket is connected,
no skeleton or spinner is left and the main area has content.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")

#: true once the page is fully rendered (see the module docstring)
READY_JS = """() => {
  const app = document.querySelector('[data-test-script-state]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const conn = document.querySelector('[data-test-connection-state]');
  if (conn && conn.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (document.querySelector('[data-testid="stAppSkeleton"], [data-testid="stSkeleton"], '
                             + '[data-testid="stSpinner"], [data-stale="true"]')) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  return !!main && main.innerText.trim().length > 0;
}"""


class ServerError(RuntimeError):
    """The dashboard did not come up; the message carries the end of its output."""


def find_chromium() -> str:
    """Path of the system Chromium (TLMI_CHROMIUM overrides); a clear error when it is not installed."""
    for name in (os.environ.get("TLMI_CHROMIUM", ""), *CHROMIUM_CANDIDATES):
        path = shutil.which(name) if name else None
        if path:
            return path
    raise RuntimeError("Chromium not found; install Debian's package (`apt-get install -y chromium`) "
                       "or set TLMI_CHROMIUM to a Chromium binary")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, server: subprocess.Popen, timeout_s: float = 90.0) -> None:
    """Poll Streamlit's health endpoint until it answers 'ok'; ServerError if the server exits or never answers."""
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerError(f"the dashboard exited with code {server.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise ServerError(f"no answer from {url} after {timeout_s:.0f} s")


@contextmanager
def serve(env: dict[str, str], options: Sequence[str] = (), timeout_s: float = 90.0) -> Iterator[int]:
    """`dashboard --port <free> *options` for the duration of the block; yields the port.

    Runs the real entry point (`python -m dashboard.cli`, which execs the
    Streamlit server), stops it with SIGTERM at the end and waits for it.
    """
    port = free_port()
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "--port", str(port), *options],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until_up(port, server, timeout_s)
            except ServerError as exc:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-2000:]
                raise ServerError(f"{exc}\n--- server output ---\n{tail}") from None
            yield port
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextmanager
def chromium(headless_flags: Sequence[str] = CHROMIUM_FLAGS) -> Iterator[Any]:
    """A Playwright Browser running the system Chromium with the project's flags."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError("Playwright for Python is needed: pip install -e '.[test]' "
                           "(it drives the system Chromium; no browser download)") from None
    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(headless_flags),
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


def wait_rendered(page: Any, timeout_s: float = 60.0, settle_s: float = 0.3) -> None:
    """Block until the Streamlit page is rendered and stays so for `settle_s` (reruns start right after load)."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = max(deadline - time.monotonic(), 0.1)
        page.wait_for_function(READY_JS, timeout=remaining * 1000, polling=50)
        if settle_s <= 0:
            return
        page.wait_for_timeout(settle_s * 1000)
        if page.evaluate(READY_JS):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{page.url}: page did not settle within {timeout_s:.0f} s")


def open_rendered(page: Any, url: str, timeout_s: float = 60.0) -> float:
    """Open `url` and wait until it is rendered; returns the seconds from navigation to the last element."""
    start = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
    wait_rendered(page, timeout_s, settle_s=0)
    elapsed = time.perf_counter() - start
    wait_rendered(page, timeout_s)
    return elapsed


#: the text of every exception or st.error box on the page (an app that works shows none)
PROBLEMS_JS = """() => Array.from(document.querySelectorAll(
  '[data-testid="stException"], [data-testid="stAlertContentError"]')).map(e => e.innerText.trim())"""


def problems(page: Any) -> list[str]:
    """Exceptions and error boxes shown on the page."""
    return list(page.evaluate(PROBLEMS_JS))


def save_png(page: Any, target: Path, full_page: bool = True) -> Path:
    """A PNG of the page as shown (the whole scrolling main area when `full_page`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=full_page)
    return target
