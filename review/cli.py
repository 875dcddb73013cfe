"""`review` command line: one sub-command per module in `review.commands`.

Sub-command modules are imported only when chosen, so `review validate` never
pays for matplotlib or statsmodels.
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
    "validate": ("review.commands.validate", "check a studies CSV against the codebook"),
    "add": ("review.commands.add", "append one coded study (validated, atomic, duplicate-safe)"),
    "import-bib": ("review.commands.import_bib", "add skeleton rows for BibTeX entries not yet present"),
    "import-ris": ("review.commands.import_ris", "add skeleton rows for RIS / PubMed records not yet present"),
    "import-xlsx": ("review.commands.import_xlsx", "apply a filled-in studies spreadsheet (validated, atomic)"),
    "export": ("review.commands.export", "write the studies as CSV, XLSX, RIS or BibTeX (spreadsheet-safe)"),
    "export-bib": ("review.commands.export_bib", "write the CSV's bibliography as BibTeX"),
    "codebook": ("review.commands.codebook", "print or render the codebook"),
    "prisma": ("review.commands.prisma", "PRISMA 2020 flow diagram and its arithmetic checks"),
    "summary": ("review.commands.summary", "the review's Figures 4 and 5 from the CSV"),
    "spearman": ("review.commands.spearman", "Figure 6: data size vs AUC / accuracy (Spearman)"),
    "meta": ("review.commands.meta", "random-effects meta-analysis / meta-regression of accuracy or AUC"),
    "audit": ("review.commands.audit", "published numbers next to the values recomputed from the CSV"),
    "agreement": ("review.commands.agreement", "inter-coder agreement of the coding passes"),
    "merge-coding": ("review.commands.merge_coding", "rebuild the studies CSV from the resolved coding"),
    "report": ("review.commands.report", "every figure plus a Markdown report"),
}


def build_parser(load: bool = True, only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="review",
        description="The living systematic review of transfer learning for medical image classification.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        if load and (only is None or only == name):
            _module(module_name).configure(p)
    return parser


def _module(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:  # a command not built yet must say so, not crash
        if exc.name == module_name:
            raise SystemExit(f"review: command module {module_name} is not available in this install") from exc
        raise


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=chosen if chosen in COMMANDS else "")
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(_module(args._module).run(args) or 0)
    except BrokenPipeError:  # e.g. `... --csv | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python docs' recipe
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
