"""The compare command's options and what it does, defined once for `bench compare` and
`python -m reports compare`.

Exit status: 0 no regression (every compared metric improved or showed no change), 3 at least one regression,
4 no regression but at least one inconclusive verdict, 1 bad input. `--calibrate` exits 0 once it wrote
its file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reports.compare import DEFAULT_MIN_CHANGE, DEFAULT_RUN_NOISE

if TYPE_CHECKING:  # the analysis loads scipy: only when a comparison runs
    from reports.compare.analysis import Noise

EPILOG = ("Exit status: 0 no regression, 3 at least one regression, 4 inconclusive (no regression, but a verdict "
          "could not be decided: more trials, a calibrated noise or a duet run would), 1 bad input (e.g. runs "
          "that are not comparable without --force). See docs/reports.md.")


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `bench compare` and `python -m reports compare`."""
    p.description = ("Compare each later run with the first, per workload and variant (req/s, p99, req/CPU-s): "
                     "regression, improvement, no change (its 95% interval inside +-threshold) or inconclusive.")
    p.epilog = EPILOG
    p.add_argument("runs", nargs="+", type=Path, help="run folders; the first is the baseline")
    p.add_argument("--min-change", "--threshold", dest="min_change", type=float, default=DEFAULT_MIN_CHANGE,
                   metavar="PCT", help="the threshold in percent: a regression or improvement must be beyond it, "
                   "'no change' needs the whole 95%% interval inside it (default %(default)g)")
    p.add_argument("--run-noise", type=float, default=None, metavar="SD",
                   help="run-to-run standard deviation of a run's level in log units (default "
                   f"{DEFAULT_RUN_NOISE:g}, about 5.5%%, from A/A runs on this project's machine); better: "
                   "--noise-from a calibration of your machine")
    p.add_argument("--noise-from", type=Path, default=None, metavar="FILE",
                   help="read the run-to-run noise per metric from a calibration.json that --calibrate wrote")
    p.add_argument("--calibrate", action="store_true",
                   help="the runs are of one commit (A/A): measure the run-to-run noise and write calibration.json "
                   "(into --out, default <last run>/compare/) for --noise-from")
    p.add_argument("--match", action="append", default=[], metavar="A=B",
                   help="compare cell A of the first run with cell B of the later runs when their names differ "
                   "(a variant, or workload/variant: --match v1=v2); repeatable")
    p.add_argument("--force", action="store_true",
                   help="compare even when machine or stack settings differ (they are listed in the report)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: <last run>/compare/)")


def _noise(ns: argparse.Namespace) -> Noise | None:
    from bench.record.errors import UserError
    from reports.compare import calibration
    from reports.compare.analysis import Noise

    if ns.noise_from is not None and ns.run_noise is not None:
        raise UserError(f"--noise-from {ns.noise_from} and --run-noise {ns.run_noise:g} together: give one (the "
                        "calibration has a figure per metric)")
    if ns.noise_from is not None:
        return calibration.load(ns.noise_from).noise(ns.noise_from)
    return None if ns.run_noise is None else Noise(ns.run_noise, source="--run-noise")


def run_calibrate(ns: argparse.Namespace) -> int:
    from reports.compare import calibration, lines, pairing

    if ns.noise_from is not None:
        from bench.record.errors import UserError

        raise UserError("--calibrate measures the noise: it cannot take --noise-from")
    cal = calibration.calibrate(ns.runs, force=ns.force, matches=pairing.parse_matches(ns.match))
    path = calibration.write(cal, ns.out)
    for line in lines.calibration_lines(cal, path):
        print(line)
    return 0


def run_compare(ns: argparse.Namespace) -> int:
    """Compare and print one line per cell and metric, the detectable change, the verdict and the path of
    compare.html; the exit status (0, 3 or 4)."""
    if ns.calibrate:
        return run_calibrate(ns)
    # matplotlib is imported only when there is work
    from reports.compare import lines, pairing
    from reports.compare.page import compare_runs, summary_sentence

    noise = _noise(ns)
    run_noise = DEFAULT_RUN_NOISE if ns.run_noise is None else ns.run_noise
    result = compare_runs(ns.runs, min_change=ns.min_change, run_noise=run_noise, force=ns.force, out=ns.out,
                          matches=pairing.parse_matches(ns.match), noise=noise)
    for line in lines.all_lines(result):
        print(line)
    print(summary_sentence(result))
    print(lines.verdict_line(result))
    print(result.files[0])
    return result.exit_code

