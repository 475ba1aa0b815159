"""`bench tune --knob max-connections-per-child` (the default): sweep MaxConnectionsPerChild with KeepAlive
on and off, measure, model (bench.tune.model), recommend.

Apache counts connections, not requests: with keep-alive one child serves N connections x the requests
each connection carries. Both modes are measured and the requests per connection actually seen are
reported. Every point is written to tune.json as soon as it is measured.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.load.plan import MAX_TRIALS, Plan, check_int
from bench.record.tune import MODEL_TOLERANCE, BudgetScope, TuneData, TunePlan, TuneRecord, TuneStack
from bench.record.tune_conclusions import (
    Advice,
    Check,
    Confirmation,
    ConfirmStatus,
    CurvePoint,
    ModeConclusion,
    ModelParameters,
    OutOfSample,
    Source,
)
from bench.record.tune_points import KeepAlive, Point, PointTrial, SweepTrial
from bench.stack.knobs import StackSettings
from bench.stack.servers import DEFAULT_SERVER, PREFORK_RECYCLING, SERVERS, Recycling
from bench.tune import confirm as confirm_step
from bench.tune import model as tune_model
from bench.tune import summaries
from bench.tune.knobs import Knob, as_tune_data
from bench.tune.options import (
    SweepArgs,
    TuneOptions,
    check_workload,
    parse_budget,
    parse_confirm_duration,
    parse_keepalive,
    parse_loss,
)
from bench.tune.sweep import Log, Sweep, SweepPoint, SweepTask

NAME = "max-connections-per-child"


def parse_values(text: str) -> list[int]:
    try:
        values = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as exc:
        raise UserError(f"--values {text!r} is not a comma list of whole numbers >= 0 (e.g. 0,10,100)") from exc
    if not values or values[0] < 0:
        raise UserError(f"--values {text!r} is not a comma list of whole numbers >= 0 (e.g. 0,10,100)")
    if 0 not in values:
        values.insert(0, 0)  # the baseline without recycling: every loss is measured against it
    return values


def analyze_point(steady: tuple[float, float], trial_dir: Path, processes: int,
                  apache_started: float | None = None) -> dict[str, Any]:
    """Recycling facts of one trial from its access log and memory samples (the PointTrial figures of
    max-connections-per-child), over its steady window (epoch seconds).

    apache_started: when this trial's own Apache started (all its children are new); None: Apache was not
    started for the trial (new: forked in the window, or serving from the log's first FRESH_S seconds).
    """
    from bench.load import access_log
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start

    entries = access_log.read(trial_dir / "access.log")
    start, end = steady
    window = [e for e in entries if start <= e.t < end]
    pids_in = {e.pid for e in window}
    samples = _apache_samples(trial_dir / "samples.jsonl")
    new = _new_children(entries, samples, pids_in, start)
    per_pid: dict[int, list] = {}
    for e in entries:
        per_pid.setdefault(e.pid, []).append(e)
    # Whole lives: children that started in the window and stopped serving a second before it ended.
    lives = [len(rows) for pid, rows in per_pid.items() if pid in new and rows[-1].t < end - 1.0]
    startups = [(per_pid[pid][0].t - per_pid[pid][0].micros / 1e6 - info["created"]) * 1000
                for pid, info in samples.items() if pid in new and info.get("created")]
    growth, fresh = _growth(samples, per_pid, (start + end) / 2)
    short, full = slot_rates(per_pid, start, end, processes)
    warmups = _warmups(entries, per_pid, new, apache_started)
    return {
        "service_ms_mean": round(float(np.mean([e.micros for e in window])) / 1000, 4) if window else None,
        "requests_per_connection": _requests_per_connection(per_pid, start, end),
        "connections": sum(1 for e in window if e.keepalive == 0),
        "children_seen": len(pids_in),
        "children_spawned_per_s": round(len(new) / max(end - start, 1e-9), 3),
        "requests_per_child": stats.median(lives, 3),
        "warmup_ms": stats.median(warmups, 3),
        "warmup_children": len(warmups),
        "warmup_cold_ms": stats.median(_cold_warmups(per_pid), 3),
        "startup_ms": stats.median([s for s in startups if s >= 0], 3),
        "rss_mb_end_of_life": stats.median([max(info["rss"]) / 1024 for info in samples.values() if info["rss"]], 3),
        "pss_mb_end_of_life": stats.median([max(info["pss"]) / 1024 for info in samples.values() if info["pss"]], 3),
        "growth_kb_per_request": growth,
        "fresh_rss_mb": fresh,
        "slot_rps": short,
        "full_slot_rps": full,
    }


def _new_children(entries: list, samples: dict[int, dict], pids_in: set[int], start: float) -> set[int]:
    """The children new in the window: forked in it (the sampler's fork time), not merely first served in it
    (a child forked at Apache's start whose first client came late, on a busy machine). A child too
    short-lived to be sampled: first served in the window."""
    before = {e.pid for e in entries if e.t < start}
    created = {pid: info["created"] for pid, info in samples.items() if info.get("created")}
    return {pid for pid in pids_in if (created[pid] >= start if pid in created else pid not in before)}


def _cold_warmups(per_pid: dict[int, list]) -> list[float]:
    """The cold-flag figure (extra service time of the requests the handler flagged cold), kept for comparison."""
    from bench.record import stats

    out = []
    for rows in per_pid.values():
        warm = [e.micros for e in rows if not e.cold]
        cold = [e.micros for e in rows if e.cold]
        if warm and cold:
            med = stats.median(warm)
            out.append(sum(max(c - med, 0) for c in cold) / 1000)
    return out


def _warmups(entries: list, per_pid: dict[int, list], new: set[int], apache_started: float | None) -> list[float]:
    """Warm-up cost: what every new child served slower than its own warm level, from %D alone. With this
    trial's own fresh Apache every child that served was forked by it (a busy machine's Locust can take more
    than FRESH_S to send the first request); without, the children forked in the window and those that
    served from the log's start. A child too short-lived for warmup_excess_ms (a heavy application at small N:
    tens of requests a life) counts its cold first requests' excess over the warm level (`cold_excess_ms`):
    those carry a real application's seconds of imports, and leaving them out made the cost of a new child
    its fork alone (4 ms where the first request took 1,790 ms)."""
    born = min((e.t for e in entries), default=0.0)
    warm = _warm_level_ms(entries)
    out = []
    for pid, rows in per_pid.items():
        if not pid or not (apache_started is not None or pid in new or rows[0].t - born < FRESH_S):
            continue
        w = warmup_excess_ms([e.micros for e in rows])
        w = cold_excess_ms(rows, warm) if w is None else w
        if w is not None:
            out.append(w)
    return out


def _warm_level_ms(entries: list) -> float | None:
    """The median service time (ms) of the requests no child flagged cold: the level a short life is held to."""
    warm = [e.micros for e in entries if e.pid and not e.cold]
    return float(np.median(warm)) / 1000 if warm else None


def cold_excess_ms(rows: list, warm_ms: float | None) -> float | None:
    """A child's cold requests' extra service time (ms) over the warm level: its own median when it served
    WARMUP_BLOCK warm requests, else the server's. None: no cold request, or no warm level to hold it to."""
    cold = [e.micros / 1000 for e in rows if e.cold]
    own = [e.micros / 1000 for e in rows if not e.cold]
    level = float(np.median(own)) if len(own) >= WARMUP_BLOCK else warm_ms
    if not cold or level is None:
        return None
    return sum(max(c - level, 0.0) for c in cold)


FRESH_S = 5.0             # without a fresh Apache: a child that served this soon after the log's start is new
WARMUP_MIN_REQUESTS = 400  # fewer: the child's life ended before its warm level could be seen
WARMUP_BLOCK = 25


def warmup_excess_ms(micros: list[int]) -> float | None:
    """Extra service time (ms) of a new child's first requests over its own warm level.

    In blocks of WARMUP_BLOCK requests: the warm level is the median block mean of the second half of its
    life, and the child has settled at the first block that, with the two after it, is within two
    spreads (MAD) of it; the cost is what the requests before that block took beyond the warm level. Block
    means, not single requests: %D is skewed, and a sum of excesses over a per-request median counts the
    skew of every request as warm-up. The first settled block, not the peak of the running excess: that
    peak grows with the length of the life even when nothing warms. The cold-flagged requests alone miss
    the hundreds of slower ones after them (leaky, keep-alive off: 0.34 s flagged at N = 100 against
    0.6-0.9 s here); a child that lives fewer than WARMUP_MIN_REQUESTS never shows its warm level: None.
    """
    if len(micros) < WARMUP_MIN_REQUESTS:
        return None
    d = np.asarray(micros, dtype=float) / 1000
    blocks = d[: len(d) // WARMUP_BLOCK * WARMUP_BLOCK].reshape(-1, WARMUP_BLOCK).mean(axis=1)
    late = blocks[len(blocks) // 2:]
    warm = float(np.median(late))
    ceiling = warm + 2 * 1.4826 * float(np.median(np.abs(late - warm)))
    over = blocks > ceiling
    settled = next((b for b in range(len(blocks) // 2) if not over[b:b + 3].any()), len(blocks) // 2)
    k = settled * WARMUP_BLOCK
    return max(float(d[:k].sum() - k * warm), 0.0)


SLOT_BIN_S = 0.25


def slot_rates(per_pid: dict[int, list], start: float, end: float, processes: int,
               bin_s: float = SLOT_BIN_S) -> tuple[float | None, float | None]:
    """Requests/s per serving child in the window's bins where a slot was empty, and where none was.

    A child serves from its first request's start to its last request's end; a bin counts the children
    serving in it (fractions at the edges). If the others absorbed an empty slot's share, the first rate
    would be processes / (processes - 1) times the second; if each child is bound to its own client
    (keep-alive, or a closed loop with one user per child), the two are equal. None: under a second of
    such bins.
    """
    bins = int((end - start) // bin_s)
    if bins < 1 or not per_pid:
        return None, None
    edges = start + bin_s * np.arange(bins)
    serving = np.zeros(bins)
    done = np.zeros(bins)
    for rows in per_pid.values():
        first, last = rows[0].t - rows[0].micros / 1e6, rows[-1].t
        serving += np.clip(np.minimum(edges + bin_s, last) - np.maximum(edges, first), 0, None) / bin_s
        ts = np.array([e.t for e in rows])
        ts = ts[(ts >= start) & (ts < start + bins * bin_s)]
        np.add.at(done, ((ts - start) // bin_s).astype(int), 1)

    def rate(mask: np.ndarray) -> float | None:
        if mask.sum() * bin_s < 1.0 or serving[mask].sum() <= 0:
            return None
        return round(float(done[mask].sum() / (serving[mask].sum() * bin_s)), 2)

    short = serving < processes - 0.5
    return rate(short & (serving > 0.5)), rate(~short)


def _requests_per_connection(per_pid: dict[int, list], start: float, end: float) -> float | None:
    """Mean requests of the connections that began and ended in the window.

    A connection is a run of log lines on one client port (bench.load.access_log) that starts at keep-alive
    number %k = 0 and ends before the next one. By port, not by process: a process under a threaded MPM
    serves several connections at once, and under mod_wsgi daemon mode one connection's requests reach
    several daemons. Logs from before the port field are grouped per process, where a prefork child serves
    one connection at a time.
    """
    groups: list[tuple[list, bool]] = []  # (lines of one connection key in time order, last run is whole)
    by_conn: dict[int, list] = {}
    for rows in per_pid.values():
        exited = rows[-1].t < end - 1.0  # the child stopped serving a second before the end
        old = [e for e in rows if e.conn is None]
        if old:
            groups.append((old, exited))
        for e in rows:
            if e.conn is not None:
                by_conn.setdefault(e.conn, []).append(e)
    # By port the last run is whole when the connection then went quiet for a second: a closed-loop client
    # sends its next request at once.
    for rows in by_conn.values():
        rows.sort(key=lambda e: e.t)
        groups.append((rows, rows[-1].t < end - 1.0))
    lengths = []
    for rows, done in groups:
        runs = [i for i, e in enumerate(rows) if e.keepalive == 0] + [len(rows)]
        for a, b in zip(runs, runs[1:], strict=False):
            if (b < len(rows) or done) and rows[a].t >= start and rows[b - 1].t < end:
                lengths.append(b - a)
    return round(float(np.mean(lengths)), 2) if lengths else None


def _apache_samples(path: Path) -> dict[int, dict]:
    out: dict[int, dict] = {}
    with open(path) as f:
        for line in f:
            s = json.loads(line)
            if s.get("role") != "apache":
                continue
            info = out.setdefault(s["pid"], {"t": [], "rss": [], "pss": [], "created": s.get("created")})
            if s.get("rss_kb") is not None:
                info["t"].append(s["t"])
                info["rss"].append(s["rss_kb"])
                if s.get("pss_kb") is not None:
                    info["pss"].append(s["pss_kb"])
    return out


def _growth(samples: dict[int, dict], per_pid: dict[int, list], start: float) -> tuple[float | None, float | None]:
    """RSS growth per request (KB) and a warm child's size before growth (MB), medians over children.

    A Theil-Sen line of RSS against requests served, fitted to the samples from `start` on (the second half
    of the steady window: a child that warmed late, on a loaded machine, has its one-off step before it):
    its slope is the growth, its value at zero requests the size of a fresh warm child.
    """
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start
    slopes, fresh = [], []
    for pid, info in samples.items():
        rows = per_pid.get(pid)
        keep = [i for i, t in enumerate(info["t"]) if t >= start]
        if not rows or len(keep) < 4:
            continue
        times = np.array(info["t"])[keep]
        rss = np.array(info["rss"], dtype=float)[keep]
        done = np.searchsorted(np.array([e.t for e in rows]), times).astype(float)
        if done[-1] - done[0] < 50:
            continue
        slope, intercept = stats.theil_sen(done.tolist(), rss.tolist())
        slopes.append(slope)
        fresh.append(intercept / 1024)
    if not slopes:
        return None, None
    return round(float(np.median(slopes)), 4), round(float(np.median(fresh)), 3)


def unrecycled_rps(points: list[Point]) -> float | None:
    """The rate without recycling: the median over every trial in which no child was replaced.

    N = 0 and any N whose children outlived the window ran the same server; pooling their trials makes
    the baseline that every loss is measured against less hostage to one noisy trial.
    """
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start
    return stats.median([t.rps for p in points for t in p.trials if p.value == 0 or not t.children_spawned_per_s])


def recycling_points(points: list[Point]) -> list[Point]:
    """The points that replaced children inside their window: the only ones that say what recycling costs."""
    return [p for p in points if p.n > 0 and p.children_spawned_per_s]


def build_model(points: list[Point], processes: int, counts_requests: bool = False) -> tune_model.Model | None:
    """Model inputs from the measured points of one keep-alive mode. `counts_requests`: the knob counts requests
    (mod_wsgi's maximum-requests), so a life is N requests whatever keep-alive does to connections."""
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start
    base = next((p for p in points if p.value == 0 and p.rps), None)
    if base is None or base.rps is None:
        return None
    spawning = recycling_points(points)
    warmup = child_warmup_ms(points)
    startup = stats.median([p.startup_ms for p in spawning]) or 0.0
    k = 1.0 if counts_requests else stats.median([p.requests_per_connection for p in points]) or 1.0
    r0 = unrecycled_rps(points) or base.rps
    service_ms = base.service_ms_mean or 1000 * processes / r0
    cold = stats.median([p.warmup_cold_ms for p in points])
    # Memory from N = 0, whose children live longest; else from the points that measured it (a heavy
    # application's children at N = 0 may serve too few requests in a quick window to fit a growth).
    grown = [base] if base.growth_kb_per_request is not None else [p for p in points
                                                                      if p.growth_kb_per_request is not None]
    return tune_model.Model(
        r0=r0, child_max_rps=1000 / service_ms, child_cost_s=(warmup + startup) / 1000,
        requests_per_connection=k, fresh_rss_mb=stats.median([p.fresh_rss_mb for p in grown]),
        growth_kb_per_request=stats.median([p.growth_kb_per_request for p in grown]), processes=processes,
        slot_rps=slot_rate(points), base_p99_ms=base.p99_ms,
        cold_ms=None if cold is None else cold + service_ms)


def child_warmup_ms(points: list[Point]) -> float:
    """A new child's warm-up (ms): the median over the points that measured it.

    Children replaced in steady state, when a recycling point's lives were long enough for the %D blocks
    (WARMUP_MIN_REQUESTS): the children of a fresh Apache warm all at once, against each other and the load's
    start, and paid about twice as much (leaky, keep-alive off, busy machine: 360-450 ms at N = 0 against 190-200
    ms for the children N = 1000 replaced, in the same confirmation). Otherwise every point's fresh children
    count (their short lives' cold requests included, bench.tune.recycling._warmups). Records from before
    warmup_children measured it from cold flags at the recycling points only; never below the cold first
    requests recorded beside it (warmup_cold_ms): a heavy application's seconds of imports are there."""
    from bench.record import stats

    long_lived = [p for p in recycling_points(points)
                  if p.warmup_children and (p.requests_per_child or 0) >= WARMUP_MIN_REQUESTS]
    if long_lived:
        return stats.median([p.warmup_ms for p in long_lived]) or 0.0
    if any(p.warmup_children for p in points):
        return stats.median([p.warmup_ms for p in points if p.warmup_children]) or 0.0
    warmup = stats.median([p.warmup_ms for p in recycling_points(points)]) or 0.0
    base = next((p for p in points if p.value == 0), None)
    warmup = warmup or (base.warmup_ms if base is not None else None) or 0.0
    return max(warmup, stats.median([p.warmup_cold_ms for p in points]) or 0.0)


def slot_rate(points: list[Point]) -> float | None:
    """One child's rate while a slot was empty: from the recycling point with the longest lives that measured
    it. Where lives are short a child spends much of its life warming and the rate of a serving child reads
    low (leaky: 110 req/s at N = 100 against 356 at N = 1000, where the other three children took the whole
    CPU of an empty slot); the median of the two put the empty slot's cost at 17% loss where 8.6% was measured."""
    measured = [p for p in recycling_points(points) if p.slot_rps is not None]
    return max(measured, key=lambda p: p.n).slot_rps if measured else None


def _window_prediction(model: tune_model.Model, p: Point) -> float:
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start
    predicted = stats.median([model.window_rps(p.n, *t.window) for t in p.trials if t.window])
    return model.r0 if predicted is None else predicted  # no window recorded: the model's rate without recycling


def _r1(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _error(predicted: float | None, measured: float | None) -> float | None:
    return None if predicted is None or not measured else round((predicted - measured) / measured, 4)


@dataclass(frozen=True)
class HeldOut:
    """Leave-one-out over the recycling points: the error out of sample, and each point's held-out prediction."""

    summary: OutOfSample
    errors: dict[int, tuple[float | None, float | None]]  # N -> (predicted req/s, signed error)


def held_out(points: list[Point], processes: int, counts_requests: bool = False) -> HeldOut:
    """Leave-one-out over the recycling points: each predicted by a model fitted without it.

    The in-sample residual of a point the model was fitted to proves nothing (one recycling point fits
    itself); with fewer than two recycling points there is nothing to hold out, and that is said.
    """
    spawning = recycling_points(points)
    if len(spawning) < 2:
        return HeldOut(OutOfSample.new(method=None, max_error=None,
                                       text="not checked out of sample (fewer than 2 recycling points)"), {})
    errors = {}
    for p in spawning:
        model = build_model([q for q in points if q is not p], processes, counts_requests)
        predicted = None if model is None else _window_prediction(model, p)
        errors[p.n] = (None if predicted is None else round(predicted, 1), _error(predicted, p.rps))
    worst = max(abs(e) for _, e in errors.values() if e is not None)
    return HeldOut(OutOfSample.new(method="leave-one-out", max_error=round(worst, 4),
                                   text=f"leave-one-out over {len(spawning)} recycling points (N = "
                                        + ", ".join(str(p.n) for p in spawning) + ")"), errors)


def checks(model: tune_model.Model, points: list[Point], oos: HeldOut) -> list[Check]:
    """The model against each point: in sample (fitted to it) and, at a recycling point, held out."""
    out = []
    for p in points:
        predicted = _window_prediction(model, p)
        signed = _error(predicted, p.rps)
        # A point where no child was replaced inside its window says nothing about recycling: the model
        # predicts R0 there and any difference is run-to-run noise, so it does not count as model error.
        recycled = p.n > 0 and bool(p.children_spawned_per_s)
        held, held_error = oos.errors.get(p.n, (None, None)) if recycled else (None, None)
        out.append(Check.new(value=p.value, measured_rps=p.rps, predicted_rps=round(predicted, 1),
                             signed_error=signed, error=None if signed is None else abs(signed), recycled=recycled,
                             fitted=True, held_out_predicted_rps=held,
                             held_out_error=None if held_error is None else abs(held_error),
                             measured_p99_ms=p.p99_ms, predicted_p99_ms=_r1(model.p99_ms(p.n))))
    return out


def unmeasured_memory(model: tune_model.Model) -> str:
    """What the model could not say about memory, in words (the budget then does not constrain N)."""
    missing = ([] if model.growth_kb_per_request is not None else ["the RSS growth per request"]) + (
        [] if model.fresh_rss_mb is not None else ["a fresh child's size"])
    return (" and ".join(missing) + " not measured (no child served 50 requests across four memory samples in "
            "the second half of a window)")


def check_budget(point: Point | PointTrial, budget_mb: float | None, scope: str, processes: int) -> None:
    """Refuse a budget below a fresh child's measured size: no N can meet it."""
    fresh = point.fresh_rss_mb
    if budget_mb is None or fresh is None or tune_model.fits_budget(fresh, budget_mb, scope, processes):
        return
    size = fresh * processes if scope == BudgetScope.TOTAL else fresh
    raise UserError(f"--memory-budget {budget_mb:g} MB{' (total)' if scope == BudgetScope.TOTAL else ''} is below "
                    f"a fresh child's size ({size:.1f} MB RSS measured at N = 0): no MaxConnectionsPerChild can "
                    "meet it; give a larger budget")


def parameters(model: tune_model.Model) -> ModelParameters:
    """The model's parameters as tune.json records them (rounded), with its curve on the grid."""
    curve = [CurvePoint.new(value=n, rps=round(model.rps(n), 1), loss=round(model.loss(n), 5),
                            rss_end_mb=None if (rss := model.rss_end_mb(n)) is None else round(rss, 2),
                            p99_ms=None if (p99 := model.p99_ms(n)) is None else round(p99, 1))
             for n in tune_model.GRID]
    return ModelParameters.new(
        r0=model.r0, per_process_rps=round(model.per_process_rps, 2), child_max_rps=round(model.child_max_rps, 1),
        slot_rps=model.slot_rps, capacity_rps=round(model.capacity_rps, 1),
        child_cost_s=round(model.child_cost_s * 1000, 3) / 1000, requests_per_connection=model.requests_per_connection,
        fresh_rss_mb=model.fresh_rss_mb, growth_kb_per_request=model.growth_kb_per_request,
        base_p99_ms=model.base_p99_ms, cold_ms=None if model.cold_ms is None else round(model.cold_ms, 1),
        curve=tuple(curve))


def conclude(points: list[Point], processes: int, max_loss: float, budget_mb: float | None,
             scope: str, counts_requests: bool = False) -> ModeConclusion:
    """Model, its check against the sweep, and the recommendation for one keep-alive mode."""
    model = build_model(points, processes, counts_requests)
    if model is None:
        return ModeConclusion.new(model=None, recommendation=None,
                                  reason="no measurement at 0 (no recycling): nothing to compare against")
    oos = held_out(points, processes, counts_requests)
    checked = checks(model, points, oos)
    # In sample: what the fit leaves (kept for the figure); out of sample: the model's error.
    worst = max((c.error for c in checked if c.recycled and c.error is not None), default=0.0)
    # The tolerance is judged out of sample only: a residual at a point the model was fitted to proves
    # nothing (with one recycling point the fit is exact there by construction, or off by its noise).
    judged = oos.summary.max_error
    losses = {p.n: 1 - (p.rps or 0.0) / model.r0 for p in recycling_points(points) if p.rps is not None}
    rec = tune_model.recommend(model, max_loss, budget_mb, scope, measured=losses).having(source=Source.MODEL)
    if budget_mb is not None and not model.memory_measured:
        rec = rec.having(memory_unmeasured=unmeasured_memory(model))
    if judged is not None and judged > MODEL_TOLERANCE:
        measured = tune_model.recommend_measured(points, model.r0, max_loss, budget_mb, scope, processes)
        if measured is not None:
            rec = measured.having(source=Source.MEASURED)
    return ModeConclusion.new(
        model=parameters(model), fitted_to=tuple(p.n for p in points), check=tuple(checked),
        max_error=round(worst, 4), model_ok=judged is None or judged <= MODEL_TOLERANCE,
        out_of_sample=oos.summary, recommendation=rec)


# --- advice --------------------------------------------------------------------------------------------------
def advice(data: TuneData, modes: dict[str, ModeConclusion]) -> Advice:
    """The directive lines to paste and the reasoning, from the per-mode conclusions."""
    usable = {m: c for m, c in modes.items() if c.recommended is not None and c.model is not None}
    if not usable:
        return Advice.new(directives=(), reasoning="not enough points were measured to recommend anything")
    best_mode = max(usable, key=lambda m: usable[m].model.r0 or 0)  # type: ignore[union-attr]
    c = usable[best_mode]
    conf = data.confirmation or Confirmation.from_json({})
    measured = conf.value is not None and conf.mode == best_mode
    # Not observable with a value: a larger N than the one measured over the limit, recommended unconfirmed.
    confirmed = measured and conf.status != ConfirmStatus.NOT_OBSERVABLE
    recycling = _server_recycling(data.stack or TuneStack.from_json({}))
    n = conf.value if measured else c.recommended.value  # type: ignore[union-attr]
    directives = [f"{recycling.directive}={n}" if recycling.counts == "requests" else f"{recycling.directive} {n}",
                  f"KeepAlive {'On' if best_mode == KeepAlive.ON else 'Off'}"]
    if best_mode == KeepAlive.ON:
        directives.append(f"MaxKeepAliveRequests {data.stack.max_keepalive_requests}")  # type: ignore[union-attr]
    sentences = (_cost_sentences(data, c, best_mode, recycling) + _confirmation_sentences(conf, best_mode)
                 + _memory_sentences(data, c, conf if confirmed else None, n)
                 + _model_sentences(c, confirmed) + _server_sentences(c, best_mode, recycling))
    return Advice.new(directives=tuple(directives), reasoning=" ".join(sentences), mode=best_mode, confirmed=confirmed)


def _cost_sentences(data: TuneData, c: ModeConclusion, mode: str, recycling: Recycling) -> list[str]:
    """What the sweep served without recycling and what the recommended N is predicted to cost."""
    model, rec, plan = c.model, c.recommended, data.plan or TunePlan.from_json({})
    assert model is not None and rec is not None and model.r0 is not None
    k = model.requests_per_connection or 1.0
    app = (data.stack.app if data.stack else None) or {}
    served = (f"your application ({app.get('handler') or app.get('wsgi')} from {app.get('dir')})" if app
              else f"{plan.variant}/{plan.workload}")
    per_request = mode == KeepAlive.ON and recycling.counts != "requests"
    return [
        f"Without recycling {served} served {model.r0:,.0f} req/s with keep-alive {mode}.",
        f"A new child costs about {model.child_cost_ms or 0:.1f} ms of its slot (start-up plus warm-up) and "
        "Apache replaces exited children only once a second, so "
        f"recycling every {rec.value} {recycling.counts[:-1]}(s) "
        + (f"(about {(rec.value or 0) * k:,.0f} requests at {k:g} requests per connection) " if per_request else "")
        + f"{'was measured' if rec.loss[1] == 'measured' else 'is predicted'} to lose "
        f"{100 * (rec.loss[0] or 0.0):.2f}% of throughput (limit {100 * (plan.max_loss or 0.0):.2f}%).",
    ]


def _memory_sentences(data: TuneData, c: ModeConclusion, confirmed: Confirmation | None, n: int | None) -> list[str]:
    growth = c.model.growth_kb_per_request if c.model else None
    unmeasured = c.recommended.memory_unmeasured if c.recommended else None
    if unmeasured:
        return [f"Memory did not constrain N: {unmeasured}, so the value comes from throughput alone; the "
                "--memory-budget was not applied."]
    if growth is None:
        return []
    rss = confirmed.rss_mb_end_of_life if confirmed else None
    rec = c.recommended
    out = [f"Memory grows {growth:.2f} KB per request; a child ends its life near "
           + (f"{rss:.0f} MB RSS at N = {n} (measured)." if rss is not None else
              f"{(rec.rss_end_mb if rec else None) or 0:.0f} MB RSS (predicted).")]
    if growth > 0.05 and (data.plan is None or data.plan.memory_budget_mb is None):
        out.append("Memory grows with every request and no --memory-budget was given: set one, or "
                   "this N lets each child reach the size above.")
    return out


def _model_sentences(c: ModeConclusion, confirmed: bool) -> list[str]:
    out = []
    oos = c.out_of_sample
    if oos is not None and oos.text:
        out.append("The model's error out of sample: "
                   + (f"{100 * oos.max_error:.1f}% ({oos.text})." if oos.max_error is not None else f"{oos.text}."))
    if not c.model_ok:
        # The tolerance was judged on the out-of-sample error when there was one: quote the same figure.
        judged = oos.max_error if oos is not None else None
        off = (f"The model was off by {100 * judged:.0f}% out of sample" if judged is not None
               else f"The model was off by {100 * (c.max_error or 0):.0f}% at some point (in sample)")
        source = c.recommended.source if c.recommended else None
        out.append(f"{off}, so the value comes from the measured points." if source != Source.MODEL
                   else f"{off}, and no measured point met the limits, so the value comes from the model"
                   + (" and was then measured." if confirmed else ": it is unconfirmed."))
    if not confirmed and c.recommended is not None and c.recommended.within is False:
        out.append("No value met both the loss limit and the memory budget: memory was kept within budget.")
    return out


def _server_sentences(c: ModeConclusion, mode: str, recycling: Recycling) -> list[str]:
    out = []
    k = c.model.requests_per_connection if c.model else None
    if mode == KeepAlive.ON and recycling.counts != "requests":
        out.append("Apache counts connections, not requests: with keep-alive a child serves "
                   f"N x {k:g} requests here, and as many as its clients send on other servers.")
    if recycling != PREFORK_RECYCLING:
        out.append(f"Under this server --max-connections-per-child is written as {recycling.directive}, "
                   f"which counts {recycling.counts}: set that to the value above.")
    return out


def _confirmation_sentences(conf: Confirmation, mode: str) -> list[str]:
    """What the confirmation measured, or why the value is unconfirmed."""
    status = conf.status
    if status is None:
        return []  # a record from before the confirmation step
    if status == ConfirmStatus.SKIPPED:
        return ["Unconfirmed: --no-confirm skipped measuring this value against N = 0."]
    if conf.mode == mode and status in (ConfirmStatus.NOT_OBSERVABLE, ConfirmStatus.NOT_OBSERVED):
        return [conf.sentence or ""]
    if conf.value is None or conf.mode != mode:
        return ["Unconfirmed: the confirmation did not finish, so this value was not measured."]
    out = []
    results = {r.value: r for r in conf.results}
    r = results.get(conf.measured_value)
    if r is not None:
        out.append("Measured against N = 0, interleaved" + (f" (for N = {conf.value})" if r.value != conf.value
                                                            else "") + ": " + confirm_step.describe(r)
                   + (f"; end-of-life RSS {r.rss_mb_end_of_life:.1f} MB" if r.rss_mb_end_of_life else "")
                   + (f", PSS {r.pss_mb_end_of_life:.1f} MB" if r.pss_mb_end_of_life else "") + ".")
    if conf.sentence:
        out.append(conf.sentence)
    if conf.capped:
        out.append(f"Confirmation trials were capped at {conf.cap_s or 0:g} s (--confirm-max-duration): a slot "
                   f"recycled fewer than {conf.lives or confirm_step.LIVES} times in them.")
    return out


def _server_recycling(stack: TuneStack) -> Recycling:
    """What the recycling knob is called under the server the sweep ran (older records: mod_python)."""
    server = SERVERS.get(stack.server or DEFAULT_SERVER, SERVERS[DEFAULT_SERVER])
    return server.recycling(stack.wsgi_mode)


# --- the sweep -----------------------------------------------------------------------------------------------
def point_trial(result: SweepTrial, trial_no: int, value: int, processes: int, apache_started: float,
                run_dir: Path) -> PointTrial:
    """One trial of a point as tune.json keeps it: the client's figures and the recycling facts."""
    assert result.steady is not None and result.dir is not None
    facts = analyze_point(result.steady, run_dir / result.dir, processes, apache_started)
    flags = list(result.flags)
    if value > 0 and not facts["children_spawned_per_s"]:
        flags.append("no child was replaced inside the window: this trial did not measure recycling (a child "
                     "outlives the window)")
    return result.point_trial(
        trial_no, failures=result.client.failures, generator_bound=result.generator_bound,
        bottleneck=result.bottleneck, faults=result.faults, flags=tuple(flags),
        window_after_start=tuple(round(x - apache_started, 3) for x in result.steady), **facts)


@dataclass(frozen=True)
class RecyclingArgs(SweepArgs):
    """--knob max-connections-per-child, parsed."""

    values: tuple[int, ...]
    keepalive_modes: tuple[bool, ...]
    max_loss: float
    budget_mb: float | None
    scope: BudgetScope
    confirm: bool                 # measure the recommended value against 0 (--no-confirm: skip)
    confirm_max_duration: float
    fit_lives: bool = False       # --quick: lengthen a point's trial so its children's lives fit (capped)


SWEEP_LIVES = 2        # --quick: a point's trial holds the warm-up and this many lives of a child
QUICK_CAP_S = 60.0     # ... and is never longer than this


def trial_length(value: int, base: PointTrial | None, floor_s: float, warmup_s: float,
                 cap_s: float = QUICK_CAP_S, counts_requests: bool = False) -> tuple[float, str | None]:
    """(seconds, what was said) for a point's trial: long enough for SWEEP_LIVES lives of a child at the rate
    N = 0 measured (its requests per process and per connection, its cold first request), capped. No N = 0
    yet, or N = 0: the plan's length."""
    if value == 0 or base is None or not base.rps:
        return floor_s, None
    rate = base.rps / max(base.children_seen or 1, 1)
    k = 1.0 if counts_requests else base.requests_per_connection or 1.0
    life = value * k / rate + (base.warmup_cold_ms or 0.0) / 1000 + confirm_step.REPLACEMENT_GAP_S
    needed = math.ceil(warmup_s + SWEEP_LIVES * life)
    if needed <= floor_s:
        return floor_s, None
    if needed > cap_s:
        return cap_s, (f"a child lives about {life:,.0f} s at N = {value} ({rate:,.1f} req/s per process at N = 0): "
                       f"its lives do not fit a {cap_s:g} s trial (the --quick cap), so this value cannot show "
                       "recycling")
    return float(needed), f"trial lengthened to {needed} s so that {SWEEP_LIVES} lives of a child (~{life:,.1f} s) fit"


class RecyclingTask(SweepTask):
    """The sweep of MaxConnectionsPerChild: every value in each keep-alive mode, then the recommendation and,
    on the same stack, its confirmation."""

    label = "tune"

    def __init__(self, args: RecyclingArgs, settings: StackSettings, log: Log):
        check_workload(args.workload, args.variant)
        check_int("--trials", args.trials, 1, MAX_TRIALS)
        self.args, self.plan, self.log = args, args.load_plan(), log
        self.settings = replace(settings, leaky=settings.leaky or args.workload == "leaky")  # served only when asked
        self.modes: dict[str, ModeConclusion] = {}
        self.bases: dict[str, PointTrial] = {}  # each mode's first N = 0 trial: the rate the trial lengths follow

    def _length(self, point: SweepPoint) -> tuple[float, str | None]:
        """(seconds, what was said) of a point's trial, warm-up included (bench.load.plan: duration_s)."""
        a = self.args
        if not a.fit_lives:
            return a.duration, None
        warm = self._warmup(point.mode)
        return trial_length(point.value, self.bases.get(point.mode), a.duration + warm - a.warmup, warm,
                            counts_requests=self._counts_requests)

    def _warmup(self, mode: str) -> float:
        """--quick: a trial's warm-up outlasts the fresh Apache's cold first requests as N = 0 measured them
        (twice their length, plus a second), so no window starts with children still importing."""
        base = self.bases.get(mode)
        cold_s = ((base.warmup_cold_ms or 0.0) if base is not None else 0.0) / 1000
        return max(self.args.warmup, math.ceil(2 * cold_s + 1))

    def points(self) -> list[SweepPoint]:
        a = self.args
        return [SweepPoint(KeepAlive.of(k), v, t, self._at(v, k), f"ka{KeepAlive.of(k)}-n{v}")
                for t in range(1, a.trials + 1) for k in a.keepalive_modes for v in a.values]

    def _at(self, value: int, keepalive: bool) -> StackSettings:
        return replace(self.settings, keepalive=keepalive, max_connections_per_child=value)

    def record_plan(self, generator_cpus: Any) -> TunePlan:
        a = self.args
        return TunePlan.new(knob=NAME, values=a.values, workload=a.workload, variant=a.variant,
                            keepalive=tuple(map(KeepAlive.of, a.keepalive_modes)), max_loss=a.max_loss,
                            memory_budget_mb=a.budget_mb, memory_budget_scope=a.scope, users=a.users,
                            duration_s=a.duration, warmup_s=a.warmup, trials=a.trials, generator_cpus=generator_cpus,
                            confirm=a.confirm, confirm_max_duration_s=a.confirm_max_duration)

    def describe(self, point: SweepPoint, i: int, total: int) -> str:
        d, said = self._length(point)
        r = self._recycling  # the knob as its server writes it
        knob = f"{r.directive}={point.value}" if r.counts == "requests" else f"{r.directive} {point.value}"
        return (f"{knob}, KeepAlive {point.mode}, trial {point.trial}: {d:g} s "
                f"(about {(total - i + 1) * (d + 6) / 60:.1f} min left)" + (f"; {said}" if said else ""))

    def measure(self, sweep: Sweep, point: SweepPoint, step: dict[str, Any], plan: Plan | None = None,
                rel: str | None = None) -> PointTrial:
        if plan is None and self.args.fit_lives:
            plan = replace(self.plan, duration_s=self._length(point)[0], warmup_s=self._warmup(point.mode))
        result, started = sweep.point(plan or self.plan, step, point.settings,
                                      rel or f"trials/{step['seq']:03d}-{point.folder}")
        trial = point_trial(result, point.trial, point.value, self.settings.processes, started, sweep.folder)
        if point.value == 0 and rel is None and point.mode not in self.bases:
            self.bases[point.mode] = trial
            check_budget(trial, self.args.budget_mb, self.args.scope, self.settings.processes)
            if self.args.fit_lives and self._warmup(point.mode) > self.args.warmup:
                # The first N = 0 window began while its children were still warming: measure it again.
                warm = self._warmup(point.mode)
                self.log(f"    a fresh child's first request took {(trial.warmup_cold_ms or 0) / 1000:.1f} s: N = 0 "
                         f"again with a {warm:g} s warm-up (twice that plus a second, --quick), so that its window "
                         "does not begin while children are still warming")
                trial = self.measure(sweep, point, step, replace(self.plan, duration_s=self._length(point)[0],
                                                                 warmup_s=warm),
                                     f"trials/{step['seq']:03d}-{point.folder}-rewarm")
            check_budget(trial, self.args.budget_mb, self.args.scope, self.settings.processes)
        return trial

    @property
    def _recycling(self) -> Recycling:
        return SERVERS[self.settings.server].recycling(self.settings.wsgi_mode)

    @property
    def _counts_requests(self) -> bool:
        """mod_wsgi's maximum-requests counts requests: a daemon's life is N requests, keep-alive or not."""
        return self._recycling.counts == "requests"

    def progress(self, trial: PointTrial) -> str:
        return (f"{trial.rps or 0:,.0f} req/s, p99 {trial.p99_ms or 0:.2f} ms, "
                f"{trial.children_spawned_per_s or 0:.1f} children/s, {trial.requests_per_connection} req/conn")

    def conclude(self, record: TuneRecord, complete: bool) -> None:
        a = self.args
        # mod_wsgi's maximum-requests counts requests: a daemon's life is N requests, with keep-alive or not
        self.modes = {mode: conclude(record.points(mode), self.settings.processes, a.max_loss, a.budget_mb, a.scope,
                                     self._counts_requests)
                      for mode in map(KeepAlive.of, a.keepalive_modes)}
        record.update(confirmation=Confirmation.new(
            status=ConfirmStatus.SKIPPED if not a.confirm else ConfirmStatus.NOT_RUN))
        record.finish(self.modes, advice(record.data, self.modes), complete and not a.confirm)

    def after(self, sweep: Sweep, record: TuneRecord, complete: bool, log: Log) -> None:
        """Measure the recommended value against N = 0 on the same stack (bench.tune.confirm)."""
        a = self.args
        chosen = record.data.advice.mode if record.data.advice else None
        if not a.confirm or chosen is None:
            return
        confirmed = False
        try:
            seqs = iter(range(sweep.seq + 1, 10**6))

            def confirm_trial(value: int, seconds: float, rel: str) -> PointTrial:
                point = SweepPoint(chosen, value, 1, self._at(value, chosen == KeepAlive.ON), rel)
                plan = replace(self.plan, duration_s=seconds, warmup_s=min(a.warmup, seconds / 2))
                return self.measure(sweep, point, sweep.step(plan, point) | {"seq": next(seqs)}, plan, rel)

            confirm_step.run(confirm_trial, record, chosen, self.modes[chosen], confirm_step.Limits(
                max_loss=a.max_loss, budget_mb=a.budget_mb, scope=a.scope, processes=self.settings.processes,
                warmup_s=a.warmup, floor_s=a.duration, cap_s=a.confirm_max_duration, trials=a.trials), log=log)
            confirmed = True
        finally:
            record.finish(self.modes, advice(record.data, self.modes), complete and confirmed)


class RecyclingKnob(Knob):
    """MaxConnectionsPerChild: how many connections a prefork child serves before it is replaced."""

    name = NAME
    title = "MaxConnectionsPerChild"
    directives = ("MaxConnectionsPerChild", "KeepAlive", "MaxKeepAliveRequests")
    model = "bench.tune.model: prefork's respawn rule simulated, fitted to the measured cost of a new child"
    default_values = ("0,1,10,100,1000,10000", "0,10,1000")
    values_help = "MaxConnectionsPerChild values; 0 = never recycle is always measured"
    folder_label = RecyclingTask.label
    default = True

    def parse_values(self, text: str) -> list[int]:
        return parse_values(text)

    def parse(self, opts: TuneOptions) -> RecyclingArgs:
        budget_mb, scope = parse_budget(opts.memory_budget)
        return RecyclingArgs(
            **RecyclingArgs.common(opts), values=tuple(self.parse_values(self.values_text(opts.values, opts.quick))),
            keepalive_modes=tuple(parse_keepalive(opts.keepalive)), max_loss=parse_loss(opts.max_loss),
            budget_mb=budget_mb, scope=scope, confirm=opts.confirm,
            confirm_max_duration=parse_confirm_duration(opts.confirm_max_duration), fit_lives=opts.quick)

    def task(self, args: RecyclingArgs, settings: StackSettings, log: Log) -> RecyclingTask:
        return RecyclingTask(args, settings, log)

    def summary_text(self, record: TuneData | dict[str, Any]) -> str:
        return summaries.recycling_table(as_tune_data(record))
