"""`python -m dashboard.screenshots --out DIR`: serve the app and screenshot every page.

Starts the dashboard on a free localhost port, waits until Streamlit's health
endpoint answers, then asks headless Chromium (Debian's `chromium`) for one
PNG per page, selected by its URL path, taken once the page has finished
rendering (see `shoot`). Used by CI when Chromium is installed
and by developers to look at what a user sees. Exit 0 when every page gave a
non-trivial PNG; the paths are printed one per line.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from dashboard import cli

#: (file stem, URL path) of every page registered in dashboard/app.py, plus the lazy tabs that
#: are bound to a query parameter (the default page lives at the root URL)
PAGES: tuple[tuple[str, str], ...] = (
    ("literature", ""),
    ("literature-spearman", "?" + urlencode({"lit_tab": "Figure 6: Spearman"})),
    ("literature-prisma", "?" + urlencode({"lit_tab": "PRISMA flow"})),
    ("literature-audit", "?" + urlencode({"lit_tab": "Audit: published vs recomputed"})),
    ("add-study", "add-study"),
    ("experiments", "experiments"),
    ("experiments-cost", "experiments?" + urlencode({"exp_tab": "Cost vs performance"})),
    ("side-by-side", "side-by-side"),
)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")
MIN_PNG_BYTES = 20_000  # a blank 1400x1000 page compresses far below this


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("dashboard.screenshots: Chromium not found; install it with "
                     "`apt-get install -y chromium` (Debian) and try again")


def wait_until_up(port: int, server: subprocess.Popen, timeout_s: float = 90.0) -> None:
    """Poll Streamlit's health endpoint until it answers 'ok' (or fail with the server's output)."""
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"dashboard.screenshots: the server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"dashboard.screenshots: no answer from {url} after {timeout_s:.0f} s")


READY_JS = """(() => {
  const app = document.querySelector('[data-test-script-state]');
  if (!app) return 'no-app';
  const state = app.getAttribute('data-test-script-state');
  const conn = document.querySelector('[data-test-connection-state]');
  const connected = !conn || conn.getAttribute('data-test-connection-state') === 'CONNECTED';
  const skeletons = document.querySelectorAll('[data-testid="stAppSkeleton"], [data-testid="stSkeleton"]').length;
  const main = document.querySelector('[data-testid="stMain"]');
  const text = main ? main.innerText.trim().length : 0;
  return (state === 'notRunning' && connected && !skeletons && text > 0) ? 'ready' : state;
})()"""


class _DevTools:
    """Minimal Chrome DevTools Protocol client (the `websockets` package's sync client)."""

    def __init__(self, connection) -> None:
        self.connection, self.next_id = connection, 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.connection.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.connection.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")


def _devtools_port(profile: Path, browser: subprocess.Popen, timeout_s: float = 30.0) -> int:
    """Chromium writes its debugging port (asked as 0 = any free one) to DevToolsActivePort."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise RuntimeError(f"chromium exited with code {browser.returncode} before opening DevTools")
        if marker.is_file() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        time.sleep(0.2)
    raise RuntimeError("chromium did not open its DevTools port")


class HeadlessChromium:
    """One headless Chromium (fresh profile) driven over the DevTools protocol; `shoot` pages in turn.

    Chromium's own `--screenshot --virtual-time-budget` cannot wait for a
    Streamlit page: the page is filled over a websocket, which virtual time
    does not wait for, so a slow first run would be captured as a skeleton.
    Here the picture is taken when the app itself says its script finished
    and nothing is loading.
    """

    def __init__(self, chromium: str, size: str = "1400,1000") -> None:
        self.chromium, self.size = chromium, size
        self.width, self.height = (int(v) for v in size.split(","))

    def __enter__(self) -> HeadlessChromium:
        try:
            from websockets.sync.client import connect
        except ImportError:
            raise RuntimeError("the `websockets` package (>= 12, installed with Streamlit) is needed; "
                               "pip install websockets") from None
        self._profile = tempfile.TemporaryDirectory(prefix="tlmi-chromium-", ignore_cleanup_errors=True)
        self.process = subprocess.Popen([self.chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}",
                                         f"--window-size={self.size}", "--remote-debugging-port=0",
                                         "--remote-allow-origins=*", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = _devtools_port(Path(self._profile.name), self.process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                page = next(t for t in json.load(response) if t.get("type") == "page")
            self._stack = ExitStack()
            self.connection = self._stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=256 * 2**20))
            self.tools = _DevTools(self.connection)
            self.tools.call("Page.enable")
            self.tools.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                            deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if getattr(self, "_stack", None) is not None:
            self._stack.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._profile.cleanup()

    def shoot(self, url: str, target: Path, timeout_s: float = 120.0, settle_s: float = 1.0) -> None:
        """Open `url` and save a PNG of the viewport once the page is idle; RuntimeError if it never is."""
        self.tools.call("Page.navigate", url="about:blank")  # no stale 'ready' from the previous page
        self.tools.call("Page.navigate", url=url)
        deadline, state = time.monotonic() + timeout_s, "?"
        while time.monotonic() < deadline:
            state = self.tools.evaluate(READY_JS)
            if state == "ready":
                time.sleep(settle_s)  # images, charts and fonts paint after the script ends
                if self.tools.evaluate(READY_JS) == "ready":
                    break
            time.sleep(0.3)
        else:
            raise RuntimeError(f"{url}: page not finished after {timeout_s:.0f} s (script state {state!r})")
        shot = self.tools.call("Page.captureScreenshot", format="png")
        target.write_bytes(base64.b64decode(shot["data"]))
        if target.stat().st_size < MIN_PNG_BYTES:
            raise RuntimeError(f"{url}: screenshot nearly empty ({target.stat().st_size} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the PNGs (created)")
    parser.add_argument("--studies", help="studies CSV (default: TLMI_STUDIES_CSV or data/studies.csv)")
    parser.add_argument("--results", help="harness results store (default: TLMI_RESULTS or the harness default)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each page (default 120)")
    parser.add_argument("--size", default="1400,1000", help="window size W,H (default 1400,1000)")
    parser.add_argument("--pages", nargs="*", default=[stem for stem, _ in PAGES], help="page stems to shoot")
    args = parser.parse_args(argv)

    chromium = find_chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    env = cli.environment(argparse.Namespace(studies=args.studies, results=args.results, table2=None, prisma=None))
    failures = []
    with serve(env) as port, HeadlessChromium(chromium, args.size) as browser:
        for stem, path in PAGES:
            if stem not in args.pages:
                continue
            target = args.out / f"{stem}.png"
            target.unlink(missing_ok=True)
            try:
                browser.shoot(f"http://127.0.0.1:{port}/{path}", target, timeout_s=args.timeout)
                print(target)
            except (RuntimeError, OSError, TimeoutError) as exc:
                failures.append(f"{stem}: {exc}")
    for failure in failures:
        print(f"dashboard.screenshots: {failure}", file=sys.stderr)
    return 1 if failures else 0


@contextmanager
def serve(env: dict[str, str]) -> Iterator[int]:
    """The dashboard on a free localhost port for the duration of the block; yields the port."""
    port = free_port()
    server = subprocess.Popen(cli.command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port, server)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main())
