"""A self-contained HTML page with an inline SVG chart of req/s per Apache PID over time.

Locust's web UI (2.4x) lets a locustfile add tabs that hold a table, but no chart, so the chart is a page
of its own (`/per-process/chart`, linked from the web UI). No script and no external resource: the page
reloads itself every 2 s while a test runs (a meta refresh, like Locust's own polling interval).
"""

from __future__ import annotations

import html
import math

from ._live import PidCounts

WIDTH, HEIGHT = 960, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 150, 20, 40
# Matplotlib's tab10: distinguishable, also for most colour-blind readers
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # fmt: skip


def _nice_max(value: float) -> float:
    """A round axis maximum (1, 2 or 5 times a power of ten) at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def chart_svg(series: dict[str, PidCounts], start: int, end: int) -> str:
    """Lines of requests per second for each PID over the whole seconds [start, end)."""
    seconds = list(range(start, max(start + 1, end)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((c.seconds.get(s, (0,))[0] for c in series.values() for s in seconds), default=0)
    y_max = _nice_max(peak)
    span = max(1, len(seconds) - 1)

    def x(i: int) -> float:
        return LEFT + plot_w * i / span

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="requests per second per Apache process">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for k in range(5):
        value = y_max * k / 4
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">{value:g}</text>')
    for k in range(5):
        i = round(span * k / 4)
        parts.append(f'<text x="{x(i):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11">{i} s</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="12">'
                 "seconds since the test started (or the stats were reset)</text>")  # fmt: skip
    parts.append(f'<text x="14" y="{TOP + plot_h / 2}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + plot_h / 2})">requests/s</text>')  # fmt: skip
    for n, (pid, counts) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(counts.seconds.get(s, (0,))[0]):.1f}" for i, s in enumerate(seconds))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        legend_y = TOP + 14 + 18 * n
        parts.append(f'<rect x="{LEFT + plot_w + 12}" y="{legend_y - 9}" width="12" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{LEFT + plot_w + 30}" y="{legend_y - 4}" font-size="12">PID {html.escape(pid)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def chart_page(series: dict[str, PidCounts], start: int, end: int, caption: str, refresh: bool) -> str:
    """The whole HTML page around `chart_svg`."""
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    return (
        # an empty inline icon: otherwise the browser asks for /favicon.ico, which Locust does not serve
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"{meta}<title>Per process: requests/s</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5em}p{color:#444}</style></head><body>"
        "<h1>Requests/s per Apache process</h1>"
        f"<p>{html.escape(caption)}</p>"
        f"{chart_svg(series, start, end) if series else '<p>No response with X-Bench-Pid yet.</p>'}"
        '<p><a href="../per-process">per-process JSON</a> · <a href="csv">per-process CSV</a></p>'
        "</body></html>"
    )
