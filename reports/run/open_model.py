"""The open model's figure: latency percentiles against the offered rate per variant (the "hockey stick").

`chart_offered_rate` reads the run's `offered_rate` rows (bench run --rate, or the SLO search of
--saturate --slo) and `hockey_stick_figure` draws them from plain data: one panel per workload, p50 and
p99 from the intended start against the offered rate, the SLO's line when the run had one, and the knee
(the largest rate that met the SLO, or else every rate met) marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bench.record.run_folder import Run
from bench.record.run_rows import OfferedRateRow
from bench.record.values import dig, num
from reports.kit.document import FigureBlock
from reports.kit.files import save_figure
from reports.kit.fmt import fmt_num
from reports.kit.style import new_figure, short, styled
from reports.run.figures import variant_color

NAME = "fig10-offered-rate"
TITLE = "Figure 10: latency against offered rate (open model)"


@dataclass(frozen=True)
class RatePoint:
    """One cell at one offered rate: its latencies from the intended start and whether the rate was met."""

    workload: str
    variant: str
    rate: float
    p50_ms: float | None
    p99_ms: float | None
    met: bool


def knee(points: Sequence[RatePoint]) -> RatePoint | None:
    """The largest rate of a series that met the rate (and the SLO) with every smaller rate met too."""
    best = None
    for p in sorted(points, key=lambda p: p.rate):
        if not p.met:
            break
        best = p
    return best


@styled
def hockey_stick_figure(points: Sequence[RatePoint], slo_ms: float | None = None) -> Figure:
    """p50 (dashed) and p99 (solid) from the intended start against offered req/s, log latency axis."""
    workloads = list(dict.fromkeys(p.workload for p in points)) or [""]
    variants = list(dict.fromkeys(p.variant for p in points))
    fig = new_figure(min(4.6 * len(workloads), 12), 3.8)
    axes = fig.subplots(1, len(workloads), squeeze=False, sharey=True)[0]
    for ax, workload in zip(axes, workloads, strict=True):
        for variant in variants:
            series = sorted((p for p in points if p.workload == workload and p.variant == variant),
                            key=lambda p: p.rate)
            if not series:
                continue
            color = variant_color(variant, variants)
            xs = [p.rate for p in series]
            for key, style in (("p99_ms", "-"), ("p50_ms", "--")):
                ys = [getattr(p, key) if (getattr(p, key) or 0) > 0 else np.nan for p in series]
                ax.plot(xs, ys, style, marker="o", color=color,
                        label=f"{short(variant)} {key[:3]}")
            k = knee(series)
            if k is not None and k.p99_ms:
                ax.plot([k.rate], [k.p99_ms], marker="*", markersize=14, color=color, linestyle="none")
        if slo_ms:
            ax.axhline(slo_ms, color="#b22222", linewidth=1, linestyle=":", label=f"SLO p99 {slo_ms:g} ms")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g} ms"))
        ax.set_xlabel("offered requests/s")
        ax.set_title(short(workload))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("latency from intended start (log)")
    axes[0].legend(loc="upper left", fontsize=7)
    fig.suptitle("Latency against offered rate (open model; star: knee)", fontweight="bold", fontsize=10.5)
    return fig


def slo_of(run: Run) -> float | None:
    """The p99 bound of the run's SLO search, if it had one (results.json `slo`)."""
    value = num(dig(run.data, "slo", "p99_ms"))
    return value


def chart_offered_rate(run: Run, _an: object, out_dir: Path) -> FigureBlock:
    # the SLO search's probes when there was one (its trials at the capacity are in offered_rate too)
    rows = OfferedRateRow.probes(run.data) or OfferedRateRow.rows(run.data)
    if not rows:
        return FigureBlock(NAME, TITLE, skipped="A closed-loop run (no --rate): every latency in this report comes "
                           "from users that wait for their answers (stalls hidden).")
    points = [RatePoint(r.workload, r.variant, r.rate, r.p50_ms, r.p99_ms, r.met) for r in rows]
    slo = slo_of(run)
    caption = ("Open model: requests started on a schedule at the offered rate, latency measured from each "
               "request's intended start (HdrHistogram); dashed p50, solid p99; "
               + ("one probe per rate of the SLO search." if OfferedRateRow.probes(run.data)
                  else "medians over trials."))
    for variant in dict.fromkeys(p.variant for p in points):
        for workload in dict.fromkeys(p.workload for p in points):
            k = knee([p for p in points if p.variant == variant and p.workload == workload])
            if k is not None:
                caption += f" {variant} {workload}: met up to {fmt_num(k.rate)} req/s (p99 {fmt_num(k.p99_ms)} ms)."
    missed = [r for r in rows if not r.met and r.why]
    if missed:
        caption += f" Not met: {missed[0].variant} {missed[0].workload} at {fmt_num(missed[0].rate)} req/s, " \
                   f"{missed[0].why}."
    if slo:
        caption += f" Dotted line: the SLO, p99 < {slo:g} ms."
    return save_figure(hockey_stick_figure(points, slo), out_dir, NAME, TITLE, caption)
