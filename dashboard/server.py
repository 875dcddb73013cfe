"""The dashboard's server process: `python -m dashboard.server run APP [Streamlit options]`.

Imports the libraries the pages need (pandas, Arrow, Altair, the review's
store and analyses; SciPy and statsmodels for Spearman and the meta-analysis;
matplotlib for the PRISMA diagram) before Streamlit starts listening, then
hands over to Streamlit's own command line in this same process, so the first
visit of a page does not wait for those imports (the server takes a few
seconds longer to start instead). Only libraries without Streamlit
caches are preloaded: the app's own modules, whose `st.cache_data` functions
must be created under the running server, are imported by the page scripts.
"""
from __future__ import annotations

import importlib
import os
import sys

PRELOAD = ("pandas", "pyarrow", "altair", "review.codebook", "review.store", "review.summary",
           "review.spearman", "review.plotting", "scipy.stats", "statsmodels.api", "matplotlib.pyplot")


def preload(names: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import `names`; returns those that could not be imported (the pages report what is missing)."""
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")  # a server draws into files, never into a window
    preload()
    from streamlit.web import cli as streamlit_cli

    sys.argv = ["streamlit", *(sys.argv[1:] if argv is None else argv)]
    # as `python -m streamlit` does, so the server sees the same command line; exits with its status
    streamlit_cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
