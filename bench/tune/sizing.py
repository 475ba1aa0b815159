"""How many prefork processes: the recommendation of `bench tune --knob processes`, from measured points.

Pure functions of the points (no stack, no I/O), so every constraint can be tested on synthetic data.
Four constraints, the tightest wins and is named:

- knee: the fewest processes whose requests/s is within KNEE_TOLERANCE of the best (more buy nothing);
- p99: points whose p99 passes --max-p99 are not candidates;
- memory: processes x PSS per process within --memory-budget (per child: PSS within it);
- connections: processes x connections per process + reserved <= PostgreSQL's max_connections.
"""

from __future__ import annotations

from bench.record.tune import BudgetScope
from bench.record.tune_conclusions import Binding, Sizing
from bench.record.tune_points import Point
from bench.vocabulary import VARIANT_FACTORS, through_pooler

KNEE_TOLERANCE = 0.05   # "within a few %" of the best rate: two points closer than this are one rate here
RESERVED_CONNECTIONS = 3  # the suite's own sessions (monitor, admin); bench.stack.knobs counts the same 3
# The variants that keep a pooled connection, read from the variant table (pooled, pool-only, prepared).
POOLED_VARIANTS = tuple(v for v, kept in VARIANT_FACTORS.items() if "pooled_connection" in kept)


def connections_per_process(variant: str, pool_size: int) -> int:
    """Peak PostgreSQL connections one process holds: its pool, or (connect per request) the one of the
    request it is serving: prefork serves one request at a time, so the peak is one per busy process."""
    return pool_size if variant in POOLED_VARIANTS else 1


def memory_cap(pss_mb: float | None, budget_mb: float | None, scope: str) -> int | None:
    """The most processes the budget holds (None: no budget or no PSS measured)."""
    if budget_mb is None or not pss_mb:
        return None
    if scope == BudgetScope.CHILD:
        return 0 if pss_mb > budget_mb else None  # a per-child budget caps no count, it only refuses
    return int(budget_mb // pss_mb)


def connection_cap(max_connections: int, per_process: int, reserved: int = RESERVED_CONNECTIONS) -> int:
    return max((max_connections - reserved) // max(per_process, 1), 0)


def recommend(points: list[Point], *, variant: str, pool_size: int, max_connections: int,
              pooler_pool: int | None = None, max_p99_ms: float | None = None, budget_mb: float | None = None,
              scope: str = "total",
              tolerance: float = KNEE_TOLERANCE) -> Sizing:
    """The recommended number of processes, the bound of each constraint and which one bound the result."""
    measured = sorted((p for p in points if p.rps), key=lambda p: p.n)
    if not measured:
        return Sizing.new(value=None, binding=None, reason="no point was measured")
    pss = _median([p.pss_mb for p in measured if p.pss_mb])
    per_process = connections_per_process(variant, pool_size)
    caps = {Binding.MEMORY: memory_cap(pss, budget_mb, scope),
            # Through PgBouncer (`pooler_pool`: its pool, within max_connections) no count adds server connections.
            Binding.CONNECTIONS: None if pooler_pool is not None and through_pooler(variant)
            else connection_cap(max_connections, per_process)}
    fits = [p for p in measured if all(c is None or p.n <= c for c in caps.values())]
    within_p99 = [p for p in fits if max_p99_ms is None or p.p99_ms is None or p.p99_ms <= max_p99_ms]
    knee_all = _knee(measured, tolerance)
    out = Sizing.new(knee=knee_all.n, best_rps=max(p.rps or 0 for p in measured), pss_mb=pss,
                     memory_cap=caps[Binding.MEMORY], connection_cap=caps[Binding.CONNECTIONS],
                     connections_per_process=per_process, max_p99_ms=max_p99_ms, tolerance=tolerance,
                     p99_cap=_p99_cap(measured, max_p99_ms))
    tight = min((k for k in caps if caps[k] is not None), key=lambda k: caps[k] or 0, default=Binding.CONNECTIONS)
    if not fits:
        return out.having(value=None, binding=tight, reason=f"no measured point fits the {tight} bound "
                                                            f"({caps[tight]} processes)")
    if not within_p99:
        smallest = fits[0]
        return out.having(value=smallest.n, binding=Binding.P99, within=False,
                          reason=f"no point kept p99 within {max_p99_ms:g} ms; the fewest processes measured "
                                 f"({smallest.n}) had the lowest queueing")
    chosen = _knee(within_p99, tolerance)
    if chosen.n != _knee(fits, tolerance).n:
        binding = Binding.P99
    elif chosen.n != knee_all.n:
        binding = tight
    else:
        binding = Binding.KNEE
    return out.having(value=chosen.n, rps=chosen.rps, p99_ms=chosen.p99_ms, binding=binding, within=True)


def _knee(points: list[Point], tolerance: float) -> Point:
    best = max(p.rps or 0 for p in points)
    return min((p for p in points if (p.rps or 0) >= best * (1 - tolerance)), key=lambda p: p.n)


def _p99_cap(points: list[Point], max_p99_ms: float | None) -> int | None:
    """The most processes measured before p99 first passed the bound (None: no bound or never passed)."""
    if max_p99_ms is None:
        return None
    ok = None
    for p in points:
        if p.p99_ms is not None and p.p99_ms > max_p99_ms:
            return ok
        ok = p.n
    return None


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def directives(n: int) -> list[str]:
    """A fixed pool of n, as measured: every child warm, no spawning at 1/s behind a burst."""
    return [f"StartServers {n}", f"MinSpareServers {n}", f"MaxSpareServers {n + 1}", f"MaxRequestWorkers {n}",
            f"ServerLimit {n}"]


BINDING_TEXT = {
    Binding.KNEE: "the knee of throughput bound it: more processes did not raise {rate} by more than {tol:.0f}%",
    Binding.P99: "the p99 bound ({p99:g} ms) bound it: more processes queued longer than that",
    Binding.MEMORY: "memory bound it: {cap} x {pss:.1f} MB PSS is what --memory-budget holds",
    Binding.CONNECTIONS: "PostgreSQL's connection budget bound it: {cap} x {per} connection(s) + "
                   f"{RESERVED_CONNECTIONS} reserved <= max_connections {{maxc}}",
}


def reasoning(rec: Sizing, *, variant: str, workload: str, max_connections: int, slo: str | None = None) -> str:
    """Why the count; with `slo`, the points' rates are capacities at that SLO (open model), not closed-loop."""
    if rec.count is None:
        return rec.reason or "nothing to recommend"
    n = rec.count
    served = f"met {slo} (open model, latency from the intended start) up to" if slo else "served"
    parts = [f"{variant}/{workload}: {n} process(es) {served} {rec.rps or 0:,.0f} req/s "
             f"(best measured {rec.best_rps or 0:,.0f}, knee at {rec.knee})."]
    if rec.within is False:
        parts.append(f"{rec.reason}.")
    elif rec.binding is not None:
        parts.append(_capital(BINDING_TEXT[rec.binding].format(
            rate=f"the capacity at {slo}" if slo else "requests/s",
            tol=100 * (rec.tolerance if rec.tolerance is not None else KNEE_TOLERANCE),
            p99=rec.max_p99_ms or 0, cap=_cap_of(rec), pss=rec.pss_mb or 0,
            per=rec.connections_per_process, maxc=max_connections)) + ".")
    limits = ["no memory cap" if rec.memory_cap is None else f"memory allows {rec.memory_cap}",
              "connections: PgBouncer's pool, whatever the count" if rec.connection_cap is None
              else f"connections allow {rec.connection_cap} ({rec.connections_per_process} per process)"]
    if rec.p99_cap is not None:
        limits.append(f"p99 stayed within {rec.max_p99_ms or 0:g} ms up to {rec.p99_cap}")
    parts.append("Bounds: " + ", ".join(limits) + ".")
    return " ".join(parts)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cap_of(rec: Sizing) -> int | tuple[int, ...] | None:
    return {Binding.MEMORY: rec.memory_cap, Binding.CONNECTIONS: rec.connection_cap}.get(rec.binding, rec.value)  # type: ignore[arg-type]
