"""`python -m dashboard.screenshots --out DIR`: serve the app and take a PNG of every page.

Starts the dashboard on a free localhost port (`dashboard.headless.serve`),
opens each page and lazy tab by its URL in headless Chromium (Debian's
`chromium`, driven by Playwright) and saves a PNG once the page is rendered,
the whole page (down to its last element) unless `--viewport-only`. Used by CI and by developers to
look at what a user sees. Exit 0 when every page gave a non-trivial PNG; the
paths are printed one per line with the seconds each page took to render.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlencode

from dashboard import cli, headless

#: (file stem, URL path) of every page registered in dashboard/app.py, plus the lazy tabs that
#: are bound to a query parameter (the default page lives at the root URL)
PAGES: tuple[tuple[str, str], ...] = (
    ("literature", ""),
    ("literature-spearman", "?" + urlencode({"lit_tab": "Figure 6: Spearman"})),
    ("literature-prisma", "?" + urlencode({"lit_tab": "PRISMA flow"})),
    ("literature-audit", "?" + urlencode({"lit_tab": "Audit: published vs recomputed"})),
    ("literature-studies", "?" + urlencode({"lit_tab": "Studies"})),
    ("add-study", "add-study"),
    ("experiments", "experiments"),
    ("experiments-cost", "experiments?" + urlencode({"exp_tab": "Cost vs performance"})),
    ("experiments-curves", "experiments?" + urlencode({"exp_tab": "Learning curves"})),
    ("side-by-side", "side-by-side"),
    ("side-by-side-table2", "side-by-side?" + urlencode({"sbs_tab": "Ho & Kim Table 2"})),
    ("side-by-side-data-size", "side-by-side?" + urlencode({"sbs_tab": "Data size"})),
    ("side-by-side-meta", "side-by-side?" + urlencode({"sbs_tab": "Meta-analysis"})),
    ("side-by-side-cost", "side-by-side?" + urlencode({"sbs_tab": "Cost"})),
    ("side-by-side-tables", "side-by-side?" + urlencode({"sbs_tab": "Tables"})),
)
MIN_PNG_BYTES = 20_000  # a blank 1400x1000 page compresses far below this
MAX_HEIGHT = 8000  # tallest full-page picture, in CSS pixels

#: height of everything in the app's scrolling main area (Streamlit scrolls a container, not the document)
CONTENT_HEIGHT_JS = """() => {
  const box = document.querySelector('[data-testid="stAppScrollToBottomContainer"]')
           || document.querySelector('[data-testid="stMain"]');
  return box ? Math.ceil(box.scrollHeight + box.getBoundingClientRect().top) : document.body.scrollHeight;
}"""


def shoot(page, url: str, target: Path, timeout_s: float, width: int, height: int, full: bool) -> float:
    """Open `url`, wait for it to render, save a PNG; returns the seconds to the page's last element."""
    page.set_viewport_size({"width": width, "height": height})
    seconds = headless.open_rendered(page, url, timeout_s)
    if full:
        tall = min(max(int(page.evaluate(CONTENT_HEIGHT_JS)) + 40, height), MAX_HEIGHT)
        if tall > height:
            page.set_viewport_size({"width": width, "height": tall})
            headless.wait_rendered(page, timeout_s, settle_s=0.8)  # charts re-layout to the new size
    headless.save_png(page, target, full_page=False)
    shown = headless.problems(page)
    if shown:
        raise RuntimeError(f"{url}: the page shows an error: {shown[0][:300]}")
    if target.stat().st_size < MIN_PNG_BYTES:
        raise RuntimeError(f"{url}: screenshot nearly empty ({target.stat().st_size} bytes)")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the PNGs (created)")
    parser.add_argument("--studies", help="studies CSV (default: TLMI_STUDIES_CSV or data/studies.csv)")
    parser.add_argument("--results", help="harness results store (default: TLMI_RESULTS or runs/)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each page (default 120)")
    parser.add_argument("--size", default="1400,1000", help="window size W,H (default 1400,1000)")
    parser.add_argument("--viewport-only", action="store_true", help="only what fits in the window, not the "
                        "whole page")
    parser.add_argument("--pages", nargs="*", default=[stem for stem, _ in PAGES], help="page stems to shoot")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.pages) - {stem for stem, _ in PAGES})
    if unknown:
        parser.error(f"unknown page stems {unknown}; known: {', '.join(stem for stem, _ in PAGES)}")
    width, height = (int(v) for v in args.size.split(","))

    args.out.mkdir(parents=True, exist_ok=True)
    env = cli.environment(argparse.Namespace(studies=args.studies, results=args.results))
    failures = []
    try:
        with headless.serve(env) as port, headless.chromium() as browser:
            page = browser.new_page()
            for stem, path in PAGES:
                if stem not in args.pages:
                    continue
                target = args.out / f"{stem}.png"
                target.unlink(missing_ok=True)
                try:
                    seconds = shoot(page, f"http://127.0.0.1:{port}/{path}", target, args.timeout, width, height,
                                    not args.viewport_only)
                    print(f"{target}\t{seconds:.2f} s")
                except Exception as exc:  # noqa: BLE001 - Playwright's errors; one page failing is reported
                    failures.append(f"{stem}: {type(exc).__name__}: {exc}")
    except (RuntimeError, headless.ServerError) as exc:
        print(f"dashboard.screenshots: {exc}", file=sys.stderr)
        return 1
    for failure in failures:
        print(f"dashboard.screenshots: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main())
