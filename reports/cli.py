"""`python -m reports`: a thin alias of `bench report` and `bench compare` that needs only this package and
bench.record.

    python -m reports RUN_DIR
        Build RUN_DIR/report/ (report.html, report.md, summary.json, figures as PNG and SVG).
    python -m reports compare RUN_A RUN_B [...] [--min-change 10] [--noise-from FILE] [--match A=B] [--out DIR]
        Compare later runs with the first. Exit 0: no regression; 3: at least one regression; 4: inconclusive.

Any user mistake prints `error: ...` on stderr and exits 1, without a traceback. The compare options and
what the command prints are defined once in reports/compare/command.py; `bench compare` uses them too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.record.errors import Parser, UserError
from reports.compare.command import add_compare_arguments, run_compare  # defined there, once


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m reports",
        description="Turn a run folder into a report (HTML, Markdown, PNG/SVG figures, summary.json).",
        epilog="To compare runs: python -m reports compare RUN_A RUN_B [...] (see compare --help).",
    )
    p.add_argument("run_dir", type=Path, help="the run folder, e.g. runs/20261126-010203")
    return p


def compare_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m reports compare")
    add_compare_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "compare":
            return run_compare(compare_parser().parse_args(args[1:]))
        ns = build_parser().parse_args(args)
        from reports.build import build_report  # matplotlib is imported only when there is work

        print(build_report(ns.run_dir))
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
