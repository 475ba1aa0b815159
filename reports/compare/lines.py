"""What `bench compare` prints: one line per compared cell and metric (change, 95% interval, verdict, why),
the detectable change per metric, where the noise figure comes from, and the verdict with its exit code."""

from __future__ import annotations

from bench.record import significance
from reports.compare.analysis import (
    ALL_METRICS,
    EXIT_INCONCLUSIVE,
    EXIT_REGRESSION,
    Change,
    Comparison,
)
from reports.compare.calibration import Calibration


def change_text(c: Change) -> str:
    """'-15.7% (95% CI -31.2% to +3.9%)', '-' parts where nothing was measured."""
    if c.pct is None:
        return "-"
    text = f"{c.pct:+.1f}%"
    if c.ci95_pct is not None:
        text += f" (95% CI {c.ci95_pct[0]:+.1f}% to {c.ci95_pct[1]:+.1f}%)"
    return text


def change_line(c: Change, many_runs: bool = False) -> str:
    where = f" in {c.run_id}" if many_runs else ""
    return f"{c.cell} {ALL_METRICS[c.metric][2]}{where}: {change_text(c)}, {c.verdict}: {c.why}"


def detectable_lines(result: Comparison) -> list[str]:
    """Per metric, the least sensitive cell's detectable change and what would bring it under the threshold."""
    out = []
    for metric, (_, _, label, _) in ALL_METRICS.items():
        found = [c.detectable for c in result.changes if c.metric == metric and c.detectable is not None]
        if found:
            worst = max(found, key=lambda d: d.pct)
            of = f" (the least sensitive of {len(found)})" if len(found) > 1 else ""
            out.append(f"detectable change, {label}{of}: {worst.text()}")
    return out


def noise_line(result: Comparison) -> str:
    noise = result.noise
    if noise.calibrated:
        shown = ", ".join(f"{ALL_METRICS[m][2] if m in ALL_METRICS else m} {e.run_noise:.3f} (90% upper bound "
                          f"{'-' if e.upper90 is None else format(e.upper90, '.3f')}, {e.df} df)"
                          for m, e in noise.calibrated.items())
        return f"run-to-run noise: {shown}; {noise.source}"
    return (f"run-to-run noise: {noise.run_noise:g} (log units, {100 * noise.run_noise:.1f}% per run), "
            f"{noise.source}; measure this machine's with bench compare --calibrate A A2 and pass --noise-from")


def verdict_line(result: Comparison) -> str:
    code = result.exit_code
    if code == EXIT_REGRESSION:
        return f"verdict: regression (exit {code})"
    if code == EXIT_INCONCLUSIVE:
        n = len(result.inconclusive)
        compared = len([c for c in result.changes if c.verdict != "missing"])
        calibrate = "" if result.noise.calibrated else "a calibrated noise (--noise-from), "
        return (f"verdict: inconclusive (exit {code}): no regression found, but {n} of {compared} comparisons could "
                f"not be decided; more trials, {calibrate}or {significance.DUET} would decide them")
    return f"verdict: no regression (exit {code})"


def calibration_lines(calibration: Calibration, path: object) -> list[str]:
    out = []
    for metric, e in calibration.metrics.items():
        label = ALL_METRICS[metric][2] if metric in ALL_METRICS else metric
        upper = "-" if e.upper90 is None else f"{e.upper90:.3f}"
        floor = f" (floored at {significance.NOISE_FLOOR:g})" if e.measured < significance.NOISE_FLOOR else ""
        out.append(f"{label}: run-to-run noise {e.run_noise:.3f}{floor}, measured {e.measured:.3f} "
                   f"({100 * e.measured:.1f}% per run), 90% upper bound {upper}; {e.cells} cell(s) x {e.runs} runs, "
                   f"{e.df} degree(s) of freedom{' (rough: add runs)' if e.df < 4 else ''}")
    out.append(f"calibration: {path}  (use: bench compare --noise-from {path} A B)")
    return out


def all_lines(result: Comparison) -> list[str]:
    many = len(result.run_ids) > 2
    out = [change_line(c, many) for c in result.changes]
    out += detectable_lines(result)
    out.append(noise_line(result))
    out += [f"warning: {line}" for line in [*result.busy, *result.warnings]]
    return out
