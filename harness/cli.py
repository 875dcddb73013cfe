"""`harness` command line: one sub-command per module in `harness.commands`.

Modules are imported only when chosen, so `harness --help` and `harness data`
do not start Keras.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one-line help). Each module defines
#   configure(parser: argparse.ArgumentParser) -> None
#   run(args: argparse.Namespace) -> int
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("harness.commands.data", "make, load and inspect cardiac slice-range data"),
    "sweep": ("harness.commands.sweep", "run a grid of transfer-learning trials from a YAML config"),
    "results": ("harness.commands.results", "list and export finished trials"),
    "bench": ("harness.commands.bench", "naive vs cached feature computation, speed ratios and metric differences"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Transfer-learning meta-benchmark on cardiac short-axis slice classification.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        if only is None or only == name:
            _module(module_name).configure(p)
    return parser


def _module(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise SystemExit(f"harness: command module {module_name} is not available in this install") from exc
        raise


def input_errors() -> tuple[type[Exception], ...]:
    """Errors of the user's input (config, data, results store): printed without a traceback, exit code 2.

    Imported only when an exception is being handled, so `harness --help` stays fast."""
    from harness.config.errors import ConfigError
    from harness.data.errors import DataError
    from harness.results.store import StoreError

    return ConfigError, DataError, StoreError


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")   # TensorFlow's start-up INFO lines are noise here
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=chosen if chosen in COMMANDS else "")
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(_module(args._module).run(args) or 0)
    except input_errors() as exc:  # bad input: the message names the file and key; no traceback
        print(f"harness {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `... --csv | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python docs' recipe
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
