"""`dashboard [--port N] [--studies CSV] [--results STORE] [--browser]`: serve the app on localhost.

Runs `python -m streamlit run dashboard/app.py` bound to 127.0.0.1 (nothing is
exposed to the network); the path options set the TLMI_* variables the app reads.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dashboard", description="Serve the dashboard on localhost (127.0.0.1).")
    parser.add_argument("--port", type=int, default=8501, help="localhost port (default 8501)")
    parser.add_argument("--studies", metavar="CSV", help="studies CSV (sets TLMI_STUDIES_CSV)")
    parser.add_argument("--results", metavar="STORE", help="harness results.sqlite or a folder of them, e.g. runs/ "
                        "(sets TLMI_RESULTS; default: runs/ in the working directory)")
    parser.add_argument("--table2", metavar="CSV", help="Ho & Kim Table 2 CSV (sets TLMI_TABLE2_CSV)")
    parser.add_argument("--prisma", metavar="CSV", help="PRISMA counts file (sets TLMI_PRISMA)")
    parser.add_argument("--browser", action="store_true", help="open a browser tab")
    return parser


def command(port: int, browser: bool = False) -> list[str]:
    """The streamlit command line that serves the app on 127.0.0.1:port."""
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "false" if browser else "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
            "--global.developmentMode", "false"]


def environment(args: argparse.Namespace, base: dict[str, str] | None = None) -> dict[str, str]:
    """Process environment with the chosen paths exported as TLMI_* variables."""
    env = dict(os.environ if base is None else base)
    for option, var in (("studies", "TLMI_STUDIES_CSV"), ("results", "TLMI_RESULTS"),
                        ("table2", "TLMI_TABLE2_CSV"), ("prisma", "TLMI_PRISMA")):
        value = getattr(args, option)
        if value:
            env[var] = str(Path(value).expanduser().resolve())
    env.setdefault("MPLBACKEND", "Agg")
    return env


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(f"dashboard: serving on http://localhost:{args.port} (Ctrl+C to stop)", file=sys.stderr)
    try:
        return subprocess.call(command(args.port, args.browser), env=environment(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
