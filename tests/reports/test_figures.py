"""Figure functions take plain data and return a Figure; the statistics and number formatting behind them."""

from __future__ import annotations

import io
import math

import pytest
from matplotlib.figure import Figure

from bench.record.stats import decompose_2x2, median_ci, ratio_ci
from reports.compare import figures as CF
from reports.kit.fmt import fmt_ci, fmt_num, fmt_ratio
from reports.run import figures as F

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


BARS = [F.Bar("db", "naive", 440, 427, 453), F.Bar("db", "pooled", 5200, 5044, 5356),
        F.Bar("fortunes", "naive", 380), F.Bar("fortunes", "pooled", 3900, 3783, 4017)]
PANELS = [F.Panel("db naive", [F.Series("1", [0, 1, 2, 3], [100, 300, 410, 420]),
                               F.Series("2", [0, 1, 2, 3], [90, 310, 400, 430])], 1.0),
          F.Panel("db pooled", [F.Series("1", [0, 1, 2], [1000, 5000, 5100])], None)]

CASES = {
    "rps": lambda: F.rps_figure(BARS),
    "speedup": lambda: F.speedup_figure([F.Bar("db", "pooled", 11.8, 11.1, 12.5), F.Bar("db", "pool-only", 0.8)]),
    "speedup+split": lambda: F.speedup_figure(
        [F.Bar("db", "pooled", 11.8, 11.1, 12.5)],
        [F.Bar("db", "pooling", 9.0, 8.0, 10.0), F.Bar("db", "template caching", 1.3, 1.1, 1.5),
         F.Bar("db", "total (pooled)", 11.8, 11.1, 12.5)]),
    "latency": lambda: F.latency_figure([F.Latency("db", "naive", 10.2, 16.3, 34.7, 114),
                                         F.Latency("db", "pooled", 0, 1.4, None, 11.4)]),
    "per-process": lambda: F.per_process_rps_figure([F.PidPoint("db", "pooled", "12", 1300.0),
                                                     F.PidPoint("db", "pooled", "13", 1250.0),
                                                     F.PidPoint("db", "naive", "14", 110.0)]),
    "per-process-timeline": lambda: F.per_process_timeline_figure(PANELS),
    "timeline": lambda: F.timeline_figure(PANELS * 3),  # 6 panels: two rows
    "memory": lambda: F.memory_figure([F.MemSeries("naive", "12", [0, 0.1, 0.2], [20, 20.5, 21], [10, None, 11]),
                                       F.MemSeries("pooled", "13", [0.5, 0.6], [21, 21], [None, None])]),
    "cost": lambda: F.cost_figure([F.Bar("db", "naive", 3.25), F.Bar("db", "pooled", 0.22)],
                                  [F.Bar("db", "naive", 1000), F.Bar("db", "pooled", 0)]),
    "cost-one-side": lambda: F.cost_figure([F.Bar("db", "naive", 3.25)], []),
    "saturation": lambda: F.saturation_figure(
        [F.SaturationCurve("db", "naive", [4, 8, 16], [45.0, 70.0, 71.0], [121.0, 180.0, None], 8),
         F.SaturationCurve("db", "pooled", [4, 8, 16, 32], [1000, 1900, 2400, 2450], [12.3, 15.0, 30.0, 95.0], 16)],
        100.0),
    "saturation-empty": lambda: F.saturation_figure([]),
    "change": lambda: CF.change_figure([CF.ChangePoint("db pooled req/s", -30.0, -35.0, -25.0, "regression"),
                                       CF.ChangePoint("db naive req/s", 1.0, None, None, "too few trials")], 5.0),
}


@pytest.mark.parametrize("name", CASES)
def test_figure_functions_take_plain_data(name: str) -> None:
    fig = CASES[name]()
    assert isinstance(fig, Figure)
    assert _png(fig)[:8] == PNG_MAGIC


@pytest.mark.parametrize("fn", [F.rps_figure, F.per_process_rps_figure, F.latency_figure, F.memory_figure,
                                F.timeline_figure, F.per_process_timeline_figure])
def test_empty_input_gives_an_empty_figure_not_an_error(fn) -> None:
    assert _png(fn([]))[:8] == PNG_MAGIC


def test_labels_are_text_not_mathtext() -> None:
    fig = F.rps_figure([F.Bar("$x$ $", "<b>", 1.0)])
    assert _png(fig)[:8] == PNG_MAGIC


def test_variant_colors_are_stable() -> None:
    assert F.variant_color("pooled") == F.VARIANT_COLORS["pooled"]
    assert F.variant_color("other", ["naive", "other"]) == F.variant_color("other", ["naive", "other"])


# --- statistics ----------------------------------------------------------------------------------
def test_median_ci_follows_the_format_rule() -> None:
    assert median_ci([]) is None
    assert median_ci([5.0]) == (5.0, 5.0)
    assert median_ci([4.0, 6.0]) == (4.0, 6.0)  # fewer than 3 trials: [min, max]
    lo, hi = median_ci([10, 11, 12, 13, 14])
    assert 10 <= lo <= 12 <= hi <= 14
    assert median_ci([10, 11, 12, 13, 14]) == (lo, hi)  # fixed seed


def test_ratio_ci() -> None:
    r = ratio_ci([100, 102, 98], [50, 51, 49])
    assert r.ratio == pytest.approx(0.5)
    assert r.lo < 0.5 < r.hi and r.hi < 1 and r.excludes_one()
    assert r.pct == pytest.approx(-50)
    assert ratio_ci([100, 102, 98], [50, 51, 49]) == r  # deterministic
    single = ratio_ci([100], [50, 52])
    assert single.lo is None and not single.excludes_one()  # one trial never proves a change
    assert ratio_ci([], [1.0]) is None
    assert ratio_ci([0.0, 0.0], [1.0, 2.0]) is None
    same = ratio_ci([100, 103], [100, 103])
    assert same.ratio == 1 and not same.excludes_one()


def test_decompose_2x2_is_exact_on_the_log_scale() -> None:
    split = decompose_2x2([100, 100], [600, 600], [120, 120], [1000, 1000])
    assert split.total.factor == pytest.approx(10)
    assert split.pooling.factor * split.caching.factor == pytest.approx(10)
    assert split.pooling.factor == pytest.approx(math.sqrt(6 * 1000 / 120))
    assert split.caching.factor == pytest.approx(math.sqrt(1.2 * 1000 / 600))
    assert split.interaction.factor == pytest.approx(1000 * 100 / (600 * 120))
    assert split.pooling_share == pytest.approx(math.log(split.pooling.factor) / math.log(10))
    assert split.pooling.lo == pytest.approx(split.pooling.factor)  # no spread, no width
    assert decompose_2x2([100], [600], [120], [1000]).pooling.lo is None
    assert decompose_2x2([], [600], [120], [1000]) is None
    assert decompose_2x2([0], [600], [120], [1000]) is None


# --- formatting ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value,text", [
    (None, "–"), (float("nan"), "–"), (0, "0"), (2, "2"), (440.0, "440"), (5200.0, "5,200"),
    (1299.9, "1,300"), (109.9, "110"), (34.68, "34.7"), (3.2499, "3.25"), (0.125, "0.12"), (0.0042, "0.0042"),
    (-12.34, "-12.3"),
])
def test_fmt_num(value, text) -> None:
    assert fmt_num(value) == text


def test_fmt_ratio_and_ci() -> None:
    assert fmt_ratio(11.818) == "11.8x"
    assert fmt_ratio(None) == "–"
    assert fmt_ci(11.13, 12.549) == "11.1–12.5"
    assert fmt_ci(None, 3) == "–"


_SAVE_ONE = """
import sys
from pathlib import Path
from reports.kit.files import save_figure
from reports.kit.style import new_figure, styled

@styled
def fig():
    f = new_figure(3, 2)
    f.add_subplot().bar(["a", "b"], [1, 2])
    return f

save_figure(fig(), Path(sys.argv[1]), "f", "t", "c")
"""


def test_an_svg_is_the_same_bytes_from_two_processes(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MATPLOTLIBRC"} | {"MPLBACKEND": "Agg"}
    outs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        subprocess.run([sys.executable, "-c", _SAVE_ONE, str(tmp_path / name)], check=True, env=env)
        outs.append((tmp_path / name / "f.svg").read_bytes())
    assert b"clip-path" in outs[0] and outs[0] == outs[1]
