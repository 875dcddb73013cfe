"""`review codebook [--markdown] [--json] [--out FILE]`: show the codebook.

Default output: one line per column (name, type, required, allowed values).
`--markdown` prints the rendering kept in `data/CODEBOOK.md`; `--out FILE`
writes it there atomically instead of printing.

JSON (`--json`)::

    {"version": 1, "list_separator": "; ",
     "fields": [{"name": "study_id", "type": "str", "required": true, "multi": false,
                 "vocabulary": null, "min": null, "max": null, "pattern": "...",
                 "description": "..."}],
     "consistency": {"category_family": {...}}}
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from review.codebook import CodebookError, load_codebook
from review.store import write_text_atomic


def configure(parser: argparse.ArgumentParser) -> None:
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="render as Markdown (data/CODEBOOK.md)")
    fmt.add_argument("--json", action="store_true", help="print as JSON")
    parser.add_argument("--codebook", default=None, help="codebook YAML (default: the packaged one)")
    parser.add_argument("--out", default=None, help="write the output to FILE instead of stdout")


def run(args: argparse.Namespace) -> int:
    try:
        cb = load_codebook(args.codebook)
    except CodebookError as exc:
        print(f"review codebook: {exc}", file=sys.stderr)
        return 2
    if args.markdown:
        text = cb.render_markdown()
    elif args.json:
        fields = [{**dataclasses.asdict(f), "vocabulary": list(f.vocabulary) if f.vocabulary else None}
                  for f in cb.fields.values()]
        text = json.dumps({"version": cb.version, "list_separator": cb.list_separator,
                           "fields": fields, "consistency": cb.consistency}, indent=2, ensure_ascii=False) + "\n"
    else:
        text = "".join(f"{f.name:<20} {f.type + ('*' if f.required else ''):<7} {f.allowed()}\n"
                       for f in cb.fields.values()) + "(* = required)\n"
    if args.out:
        write_text_atomic(Path(args.out), text)
    else:
        print(text, end="")
    return 0
