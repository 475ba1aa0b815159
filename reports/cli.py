"""`python -m reports`: a thin alias of `bench report` and `bench compare` that needs only this package and
bench.record.

    python -m reports RUN_DIR
        Build RUN_DIR/report/ (report.html, report.md, summary.json, figures as PNG and SVG).
    python -m reports compare RUN_A RUN_B [...] [--min-change 10] [--run-noise 0.055] [--force] [--out DIR]
        Compare later runs with the first. Exit 0: no regression; 3: at least one regression.

Any user mistake prints `error: ...` on stderr and exits 1, without a traceback. The compare options and
what the command prints are defined here once; `bench compare` uses them too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.record.errors import Parser, UserError
from reports.compare import DEFAULT_MIN_CHANGE, DEFAULT_RUN_NOISE


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m reports",
        description="Turn a run folder into a report (HTML, Markdown, PNG/SVG figures, summary.json).",
        epilog="To compare runs: python -m reports compare RUN_A RUN_B [...] (see compare --help).",
    )
    p.add_argument("run_dir", type=Path, help="the run folder, e.g. runs/20261126-010203")
    return p


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `bench compare` and `python -m reports compare`."""
    p.description = "Compare each later run with the first, per workload and variant (req/s and p99)."
    p.epilog = ("Exit status: 0 no regression, 3 at least one regression, 1 user error (e.g. runs that "
                "are not comparable without --force).")
    p.add_argument("runs", nargs="+", type=Path, help="run folders; the first is the baseline")
    p.add_argument("--min-change", type=float, default=DEFAULT_MIN_CHANGE, metavar="PCT",
                   help="smallest change in percent called a regression or improvement (default %(default)g)")
    p.add_argument("--run-noise", type=float, default=DEFAULT_RUN_NOISE, metavar="SD",
                   help="run-to-run standard deviation of a run's level in log units, as measured on your machine "
                   "from runs of one commit (default %(default)g, about 5.5%%)")
    p.add_argument("--force", action="store_true",
                   help="compare even when machine or stack settings differ (they are listed in the report)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: <last run>/compare/)")


def compare_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m reports compare")
    add_compare_arguments(p)
    return p


def run_compare(ns: argparse.Namespace) -> int:
    """Compare, print the verdicts and the path of compare.html; the exit status (0, or 3 on a regression)."""
    # matplotlib is imported only when there is work
    from reports.compare.page import compare_runs, summary_sentence

    result = compare_runs(ns.runs, min_change=ns.min_change, run_noise=ns.run_noise, force=ns.force, out=ns.out)
    for c in [*result.regressions, *result.improvements, *result.inconclusive]:
        print(f"{c.verdict}: {c.workload} {c.variant} {c.metric} {c.pct:+.1f}% in {c.run_id}: {c.why} "
              f"(verdict on {c.metric}, run noise {c.run_noise:g}, min change {c.min_change:g}%)")
    for line in result.busy:
        print(f"warning: {line}")
    print(summary_sentence(result))
    print(result.files[0])
    return result.exit_code


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
