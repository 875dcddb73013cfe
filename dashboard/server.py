"""The dashboard's server process: `python -m dashboard.server run APP [Streamlit options]`.

Before Streamlit starts listening, this process does the work a first visitor
would otherwise wait for, then hands over to Streamlit's own command line in
this same process (so the server takes a few seconds longer to start instead):

1. imports the libraries the pages need (pandas, Arrow, Altair, the review's
   store and analyses; SciPy and statsmodels for Spearman and the
   meta-analysis; matplotlib for the PRISMA diagram);
2. renders every page once, headless, with Streamlit's own `AppTest`, under
   the server's configuration: the app's modules are imported, the cached
   loaders hold the configured studies CSV and results store, and the
   libraries' one-time work on first use is done;
3. moves everything alive at that point out of the garbage collector's
   reach (`gc.freeze`): Streamlit collects garbage after every script run,
   and without this each collection walks the few hundred thousand objects of
   those libraries again (a quarter of a second on this project's 2-core
   machine, on every rerun of every page).

A warm-up that fails is reported in one line and the server starts anyway:
the page then shows the problem to whoever opens it.
"""
from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PRELOAD = ("pandas", "pyarrow", "altair", "review.codebook", "review.store", "review.summary",
           "review.spearman", "review.plotting", "scipy.stats", "statsmodels.api", "matplotlib.pyplot")
#: the pages `st.navigation` registers in dashboard/app.py, rendered once before serving (the default
#: page first: AppTest's first run lands on it)
WARM_PAGES = ("app_pages/literature.py", "app_pages/add_study.py", "app_pages/experiments.py",
              "app_pages/side_by_side.py")
WARM_TIMEOUT_S = 120.0
#: AppTest's constructor writes its session state from the main thread, which Streamlit logs as a warning
_BARE_MODE_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


def preload(names: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import `names`; returns those that could not be imported (the pages report what is missing)."""
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def load_streamlit_config(run_args: Sequence[str]) -> None:
    """Parse Streamlit's configuration (files, environment, the flags in `run_args`) as `streamlit run` will.

    The warm-up then renders under the server's own options (its address decides
    the access mode the pages show), and when Streamlit's command line parses
    the same options again it finds nothing changed.
    """
    from streamlit.web import bootstrap
    from streamlit.web import cli as streamlit_cli

    params = streamlit_cli.main_run.make_context("run", list(run_args), resilient_parsing=True).params
    bootstrap.load_config_options({k: v for k, v in params.items() if k not in ("target", "args")})


def warm(app: str | Path, pages: Sequence[str] = WARM_PAGES, timeout_s: float = WARM_TIMEOUT_S) -> str | None:
    """Render each of `pages` of `app` once in this process (Streamlit's AppTest, default tabs only).

    Fills the app's `st.cache_data` loaders for the configured paths and does
    every library's first-use work, so the first visitor of a page pays only
    for the page itself. Reads the inputs, never writes them (no widget is
    used). Returns None, or why the warm-up stopped.
    """
    from streamlit.runtime import Runtime
    from streamlit.testing.v1 import AppTest

    bare_mode = logging.getLogger(_BARE_MODE_LOGGER)
    level = bare_mode.level
    bare_mode.setLevel(logging.ERROR)
    try:
        at = AppTest.from_file(str(Path(app).resolve()), default_timeout=timeout_s)
        for i, page in enumerate(pages):
            (at if i == 0 else at.switch_page(page)).run()
            if at.exception:
                return f"{page}: {at.exception[0].value}"
        return None
    except Exception as exc:  # noqa: BLE001 - a failed warm-up must never stop the server
        return f"{type(exc).__name__}: {exc}"
    finally:
        bare_mode.setLevel(level)
        if Runtime.exists():  # AppTest leaves its stand-in runtime registered when a run raises
            Runtime._instance = None  # the server creates the real one


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")  # a server draws into files, never into a window
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        preload()
        if len(args) >= 2 and args[0] == "run":
            start = time.perf_counter()
            load_streamlit_config(args[1:])
            problem = warm(args[1])
            print(f"dashboard: pages rendered once in {time.perf_counter() - start:.1f} s before serving"
                  + (f" (warm-up stopped: {problem})" if problem else ""), file=sys.stderr, flush=True)
    except KeyboardInterrupt:  # Ctrl+C before the server listens: stop quietly, as the server would
        raise SystemExit(130) from None
    gc.collect()
    gc.freeze()  # what is alive now lives as long as the server: keep it out of every later collection
    from streamlit.web import cli as streamlit_cli

    sys.argv = ["streamlit", *args]
    # as `python -m streamlit` does, so the server sees the same command line; exits with its status
    streamlit_cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
