"""Checks of the paths a command will write, made before any work, so a bad path costs seconds, not a run.

Each raises DataError naming the path and the reason; the CLI prints it without a traceback."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness.data.errors import DataError


def writable_dir(path: str | Path, what: str) -> Path:
    """Create the folder `path` (and its parents) and prove a file can be written in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(path, f"{what}: exists and is not a folder", "give a folder path")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise DataError(path, f"{what}: cannot be created: {blocker} is a file", "give a path in a writable folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise DataError(path, f"{what}: cannot be written ({exc.strerror or exc})",
                        "give a path in a writable folder") from None
    return path


def writable_file(path: str | Path, what: str) -> Path:
    """Check that the file `path` can be written (its folder is created if needed)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, f"{what}: is a folder", "give a file path")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise DataError(path, f"{what}: cannot be written: {blocker} is a file", "give a path in a writable folder")
    try:
        writable_dir(path.parent, what)
    except DataError as exc:
        raise DataError(path, exc.problem, exc.hint) from None
    return path


def count(minimum: int):
    """argparse type: an integer >= minimum (the error echoes the value)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. Got {text!r} instead.") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. Got {value} instead.")
        return value
    return parse
