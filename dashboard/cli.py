"""`dashboard [--port N] [--host ADDRESS] [--studies CSV] [--results STORE] ...`: serve the app.

Replaces itself (exec) with the Streamlit server for dashboard/app.py
(`python -m dashboard.server run ...`, Streamlit's own command line after
preloading the libraries every page needs), bound to 127.0.0.1 unless `--host`
names another address. Being the server process
itself, `dashboard` stops the server on SIGTERM or Ctrl+C: nothing is left
running, nothing is left listening. The path options set the TLMI_* variables
the app reads; the browser shows those paths but cannot change them unless
`--allow-path-edit` is given (and then only to files under the data roots).
On a network address the Add-a-study page is read-only unless `--allow-writes`.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dashboard.settings import (ALLOW_PATH_EDIT_VAR, ALLOW_WRITES_VAR, DATA_ROOTS_VAR, Access, Paths,
                                is_loopback)

APP = Path(__file__).resolve().with_name("app.py")
LOCALHOST = "127.0.0.1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dashboard", description="Serve the dashboard (default: on localhost, "
                                     "127.0.0.1 only). See the README's Security section before using --host.")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument("--host", metavar="ADDRESS", default=LOCALHOST,
                        help="address to listen on (default 127.0.0.1: this machine only); another address, "
                             "e.g. 0.0.0.0, serves the network and makes Add-a-study read-only")
    parser.add_argument("--allow-writes", action="store_true",
                        help="with --host: let browsers add studies to the studies CSV")
    parser.add_argument("--allow-path-edit", action="store_true",
                        help="let browsers change the data paths, to files under the data roots only")
    parser.add_argument("--data-root", metavar="DIR", action="append", default=None,
                        help="folder whose files --allow-path-edit may open (repeatable; default: the folders "
                             "of the configured inputs)")
    parser.add_argument("--studies", metavar="CSV", help="studies CSV (sets TLMI_STUDIES_CSV)")
    parser.add_argument("--results", metavar="STORE", help="harness results.sqlite or a folder of them, e.g. runs/ "
                        "(sets TLMI_RESULTS; default: runs/ in the working directory)")
    parser.add_argument("--table2", metavar="CSV", help="Ho & Kim Table 2 CSV (sets TLMI_TABLE2_CSV)")
    parser.add_argument("--prisma", metavar="CSV", help="PRISMA counts file (sets TLMI_PRISMA)")
    parser.add_argument("--browser", action="store_true", help="open a browser tab")
    return parser


def command(port: int, browser: bool = False, host: str = LOCALHOST) -> list[str]:
    """The command line of the server process: Streamlit's `run` for the app, on host:port."""
    return [sys.executable, "-m", "dashboard.server", "run", str(APP),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "false" if browser else "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
            "--global.developmentMode", "false"]


def environment(args: argparse.Namespace, base: dict[str, str] | None = None) -> dict[str, str]:
    """Process environment with the chosen paths and access options exported as TLMI_* variables.

    The access options are always written (on or off), so a stray variable in
    the caller's shell cannot open what the command line did not.
    """
    env = dict(os.environ if base is None else base)
    for option, var in (("studies", "TLMI_STUDIES_CSV"), ("results", "TLMI_RESULTS"),
                        ("table2", "TLMI_TABLE2_CSV"), ("prisma", "TLMI_PRISMA")):
        value = getattr(args, option, None)
        if value:
            env[var] = str(Path(value).expanduser().resolve())
    env[ALLOW_WRITES_VAR] = "1" if getattr(args, "allow_writes", False) else "0"
    env[ALLOW_PATH_EDIT_VAR] = "1" if getattr(args, "allow_path_edit", False) else "0"
    roots = getattr(args, "data_root", None)
    if roots:
        env[DATA_ROOTS_VAR] = os.pathsep.join(str(Path(r).expanduser().resolve()) for r in roots)
    else:
        env.pop(DATA_ROOTS_VAR, None)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def describe(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    """What this server exposes, in the words printed at start."""
    access = Access.from_env(args.host, env, Paths.from_env(env))
    shown = "localhost" if access.local else args.host
    lines = [f"dashboard: serving on http://{shown}:{args.port} on {access.served_on()} (Ctrl+C to stop)"]
    lines.append("dashboard: adding studies " + ("on" if access.writes else "off (read-only; --allow-writes to "
                                                                             "enable)"))
    if access.allow_path_edit:
        lines.append("dashboard: browsers may change the data paths, to files under: "
                     + ", ".join(map(str, access.data_roots)))
    if not is_loopback(args.host):
        lines.append("dashboard: WARNING: reachable by anyone who can reach this address; there is no login")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.allow_writes and is_loopback(args.host):
        print("dashboard: note: --allow-writes has no effect on localhost, where adding studies is always on",
              file=sys.stderr)
    env = environment(args)
    for line in describe(args, env):
        print(line, file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    cmd = command(args.port, args.browser, args.host)
    # exec: this process becomes the server, so a signal sent to `dashboard` reaches Streamlit itself
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
