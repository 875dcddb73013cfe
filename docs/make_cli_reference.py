"""Regenerate docs/cli.md from the command modules' docstrings: `python docs/make_cli_reference.py`."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render() -> str:
    from harness.cli import COMMANDS as HARNESS
    from review.cli import COMMANDS as REVIEW

    out = ["# Command reference\n",
           "Generated from each command module's docstring (`review/commands/*.py`, `harness/commands/*.py`) "
           "by `python docs/make_cli_reference.py`; each documents its arguments, exit codes and `--json` output.\n"]
    for tool, commands in (("review", REVIEW), ("harness", HARNESS)):
        out.append(f"\n## `{tool}`\n")
        for name, (module, help_text) in commands.items():
            source = (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
            doc = ast.get_docstring(ast.parse(source)) or help_text
            out.append(f"\n### `{tool} {name}`\n\n{help_text}.\n\n{doc}\n")
    out.append("\n## `dashboard`\n\nSee [dashboard.md](dashboard.md).\n")
    return "\n".join(out)


if __name__ == "__main__":
    (ROOT / "docs" / "cli.md").write_text(render(), encoding="utf-8")
