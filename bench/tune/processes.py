"""`bench tune --knob processes`: sweep the number of prefork processes and size MaxRequestWorkers.

Each point is a fresh Apache start with a fixed pool of N children (a pool per process), loaded at
users = max(2 x N, --users): every child has a request in flight and one queued, so the server, not the
load, is the limit unless the generator is (each trial records its bottleneck). The saturation ladder of
bench/load/saturation.py would cost 2-4 extra trials per point; at 2 x N a prefork pool is already saturated
(one request per child at a time), so the ladder is not used. Trials are interleaved (every point, then
every point again) and tune.json is rewritten after each. The recommendation is bench.tune.sizing's.

With --slo (a threshold list, e.g. 'p99<50ms'), a point's trial is the SLO search of `bench run --saturate
--slo` (bench/load/slo_search.py) on that pool, with the same connections (max(2 x N, --users)): the point's
rate is the largest offered rate whose open-model latency (from the intended start) met the SLO, so the knee
is taken on capacity at the SLO instead of on the closed loop's rate, and the closed loop's p99 bounds nothing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load.plan import Plan
from bench.record.tune import TuneData, TunePlan, TuneRecord, TuneStack
from bench.record.tune_conclusions import Advice, Sizing
from bench.record.tune_points import Missing, PointTrial, SweepTrial, TrialMemory
from bench.stack import cpus
from bench.stack.knobs import StackSettings
from bench.tune import sizing, summaries
from bench.tune.knobs import MEASURED_ONLY, Knob, as_tune_data
from bench.tune.options import TuneOptions, parse_budget
from bench.vocabulary import VARIANTS

NAME = "processes"
DEFAULT_MAX_P99_MS = 100.0


def parse_values(text: str) -> list[int]:
    try:
        values = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as exc:
        raise UserError(f"--values {text!r} is not a comma list of process counts >= 1 (e.g. 1,2,4,8)") from exc
    if not values or values[0] < 1 or values[-1] > 256:
        raise UserError(f"--values {text!r} is not a comma list of process counts 1..256 (e.g. 1,2,4,8)")
    return values


def check_slo(text: str | None, max_p99: float | None) -> str | None:
    """--slo for the processes knob: a valid threshold list, and not beside --max-p99 (two latency bounds)."""
    if text is None:
        return None
    from bench.load import slo_search  # scipy, through the open model's statistics: not for `bench --help`

    if max_p99 is not None:
        raise UserError(f"--slo {text!r} and --max-p99 {max_p99:g} are two latency bounds: give one (--slo sizes "
                        "on the open model's latency, --max-p99 on the closed loop's)")
    slo_search.check_slo(text, saturate=True)
    return text


def users_for(n: int, users: int) -> int:
    return max(2 * n, users)


def fitting_values(values: list[int], settings: StackSettings, log=print) -> list[int]:
    """Drop the counts whose worst case does not fit PostgreSQL's max_connections, saying so."""
    keep = []
    for n in values:
        need = replace(settings, processes=n).connections_needed
        if need > settings.pg_max_connections:
            log(f"dropped {n} processes: {n} x (pool {settings.pool_size} + 1 per-request) + 3 = {need} "
                f"PostgreSQL connections > max_connections {settings.pg_max_connections}")
        else:
            keep.append(n)
    if not keep:
        raise UserError(f"no --values fit PostgreSQL's max_connections {settings.pg_max_connections} with "
                        f"--pool-size {settings.pool_size}: lower the values or raise --pg-max-connections")
    return keep


def over_memory(values: list[int], pss_mb: float | None, budget_mb: float | None, scope: str) -> list[int]:
    """The counts whose N x PSS passes a total budget (per child: all of them when one child passes it)."""
    cap = sizing.memory_cap(pss_mb, budget_mb, scope)
    return [] if cap is None else [n for n in values if n > cap]


def conclude(record: TuneData) -> tuple[Sizing, Advice]:
    """(the recommendation, the advice: directive lines and reasoning) from the tune record."""
    from bench.load import slo_search

    plan, st = record.plan or TunePlan.from_json({}), record.stack or TuneStack.from_json({})
    # On an SLO a capacity is known to the search's resolution (10%): counts closer than that are one capacity.
    tolerance = max(sizing.KNEE_TOLERANCE, slo_search.RESOLUTION) if plan.slo else sizing.KNEE_TOLERANCE
    rec = sizing.recommend(list(record.points), variant=plan.variant or "", pool_size=st.pool_size or 0,
                           max_connections=st.pg_max_connections or 0, max_p99_ms=plan.max_p99_ms,
                           budget_mb=plan.memory_budget_mb, scope=plan.budget_scope, tolerance=tolerance)
    text = sizing.reasoning(rec, variant=plan.variant or "", workload=plan.workload or "",
                            max_connections=st.pg_max_connections or 0, slo=plan.slo)
    unmet = [p.n for p in record.points if plan.slo and not p.rps]
    if unmet:
        text += (" No offered rate met the SLO at " + ", ".join(str(v) for v in unmet) + " processes.")
    if plan.keepalive == ("on",):
        text += (" With keep-alive, a client beyond the N held connections waits for a whole kept-alive connection "
                 "(up to MaxKeepAliveRequests requests), so p99 at 2 x N users measures that queue; "
                 "--keepalive off queues per request.")
    text += _bound_text([p.n for p in record.points if p.generator_bound], bool(plan.slo))
    if record.dropped:
        text += " Not measured: " + "; ".join(record.dropped) + "."
    return rec, Advice.new(directives=tuple(sizing.directives(rec.count)) if rec.count else (), reasoning=text,
                           binding=rec.binding)


def _bound_text(bounds: list[int], slo: bool) -> str:
    """What a generator-bound count means for its rate."""
    if not bounds:
        return ""
    counts = ", ".join(str(n) for n in bounds)
    if slo:
        return (f" Generator-bound at {counts} processes: they met the SLO at every rate the generator could offer "
                "(the open model runs in one Locust process), so those capacities are lower bounds: the server was "
                "not seen to break the SLO there.")
    return (f" Generator-bound at {counts} processes: those rates are lower bounds; load from more machines "
            "(bench run --workers) to see past them.")


def execute(values: list[int], workload: str, variant: str, keepalive: bool, max_p99_ms: float,
            budget: tuple[float | None, str], settings: StackSettings, users: int, duration: float,
            warmup: float, trials: int = 1, locust_processes: int = 1, log=print,
            partition: cpus.Partition | None = None, slo: str | None = None) -> Path:
    from bench.load.run import prime  # the measuring machinery: loaded by a sweep, not by `bench --help`
    from bench.tune.sweep import Sweep

    if variant not in VARIANTS:
        raise UserError(f"--variant {variant!r} is unknown: allowed {', '.join(VARIANTS)}")
    if trials < 1:
        raise UserError(f"--trials {trials} is not allowed: use 1 or more")
    budget_mb, scope = budget
    kept = fitting_values(values, settings, log)
    dropped = [f"{n} processes (PostgreSQL connection budget)" for n in values if n not in kept]
    values = kept
    plan = Plan(workloads=[workload], variants=[variant], users=users, duration_s=duration, warmup_s=warmup,
                trials=1, locust_processes=locust_processes).validate()
    mode = "on" if keepalive else "off"
    with Sweep(replace(settings, processes=values[0], keepalive=keepalive), ProcessesKnob.folder_label,
               partition) as sweep:
        todo = [(t, n) for t in range(1, trials + 1) for n in values]
        record = TuneRecord(
            sweep.run_dir,
            plan=TunePlan.new(knob=NAME, values=tuple(values), workload=workload, variant=variant, keepalive=(mode,),
                              max_p99_ms=None if slo else max_p99_ms, slo=slo,
                              latency_model="open" if slo else "closed", memory_budget_mb=budget_mb,
                              memory_budget_scope=scope, users=users, users_rule="max(2 x processes, --users)",
                              duration_s=duration, warmup_s=warmup, trials=trials,
                              generator_cpus=sweep.partition.generator_list),
            stack=settings.to_dict(), environment=sweep.environment(),
            todo=[Missing.new(keepalive=mode, value=n, trial=t) for t, n in todo])
        record.update(dropped=tuple(dropped))
        complete = False
        try:
            prime(sweep.url, plan, settings=settings)
            skip: set[int] = set()
            for i, (trial_no, n) in enumerate(todo, 1):
                if n in skip:
                    continue
                u = users_for(n, users)
                log(f"[{i}/{len(todo)}] {n} processes, {u} users, KeepAlive {mode}, trial {trial_no}: "
                    f"{duration:g} s")
                step = {"seq": i, "trial": trial_no, "workload": workload, "variant": variant, "users": u}
                point_settings = replace(settings, processes=n, keepalive=keepalive)
                if slo:
                    measured = slo_point(sweep, plan, step, point_settings, f"trials/{i:03d}-p{n}", u, slo, log)
                else:
                    result, _ = sweep.point(plan, step, point_settings, rel=f"trials/{i:03d}-p{n}", users=u)
                    measured = point_figures(result, trial_no, u)
                record.add_trial(mode, n, measured)
                log(f"    {measured.rps or 0:,.0f} req/s{' at the SLO' if slo else ''}, p99 "
                    f"{measured.p99_ms or 0:.2f} ms, "
                    f"{measured.requests_per_cpu_second or 0:,.0f} req/CPU-s, PSS {measured.pss_mb or 0:.1f} "
                    f"MB, limit {measured.bottleneck}")
                drop_over_memory(record, [v for v in values if v not in skip], measured.pss_mb, budget_mb, scope,
                                 skip, log)
            complete = True
        finally:
            rec, adv = conclude(record.data)
            record.update(sizing=rec)
            record.finish({}, adv, complete)
    return sweep.run_dir


def drop_over_memory(record: TuneRecord, values: list[int], pss_mb: float | None, budget_mb: float | None,
                     scope: str, skip: set[int], log) -> None:
    """Drop the counts a measured PSS says pass the memory budget, saying so in the record."""
    for m in over_memory(values, pss_mb, budget_mb, scope):
        skip.add(m)
        record.update(dropped=(*record.data.dropped, f"{m} processes (x {pss_mb:.1f} MB PSS passes --memory-budget)"),
                      missing=tuple(x for x in record.data.missing if x.value != m))
        log(f"dropped {m} processes: {m} x {pss_mb:.1f} MB PSS passes the memory budget")


def point_figures(result: SweepTrial, trial_no: int, users: int) -> PointTrial:
    """A closed-loop point's trial as tune.json keeps it."""
    memory = result.memory or TrialMemory.from_json({})
    return result.point_trial(
        trial_no, users=users, server_p99_ms=(result.server.p99_ms if result.server else None),
        failures=result.client.failures, generator_bound=result.generator_bound, bottleneck=result.limit,
        server_util=result.verdict("server_util"), generator_busiest=result.verdict("generator_busiest"),
        requests_per_cpu_second=result.requests_per_cpu_second, pss_mb=memory.pss_mb_per_process,
        rss_mb=memory.rss_mb_per_process, db_sessions_per_1000_requests=result.db_sessions_per_1000_requests,
        faults=result.faults, flags=result.flags)


class _PointContext:
    """What bench.load.slo_search.search_cell needs of a run's Context, on one sweep point: its trials run on
    the point's Apache, in the point's folder, with the point's connections."""

    def __init__(self, sweep: Any, plan: Plan, folder: str, users: int, log):
        self.sweep, self.plan, self.folder, self.users, self.log = sweep, plan, folder, users, log
        self.results: dict[str, dict] = {}

    def trial(self, step: dict, rel: str | None = None, users: int | None = None) -> dict:
        result = self.sweep.trial(self.plan, step, f"{self.folder}/{rel}", users=users or self.users)
        self.results[result["dir"]] = result
        return result


def slo_point(sweep: Any, plan: Plan, step: dict, settings: StackSettings, folder: str, users: int, slo: str,
              log=print) -> PointTrial:
    """One --slo point: a fresh Apache, the SLO search on it; the point's figures are the capacity's probe."""
    from bench.load import slo_search

    sweep.start(settings)
    ctx = _PointContext(sweep, plan, folder, users, log)
    entry = slo_search.search_cell(ctx, step["workload"], step["variant"], None, slo)
    log("    " + slo_search.summary_line(entry))
    best = next((p for p in entry["probes"] if p["met"] and p["rate"] == entry["capacity_rps"]), None)
    # memory, CPU and sessions: of the probe at the capacity (of the closed loop when no rate met the SLO)
    at = SweepTrial.from_json(ctx.results[best["dir"] if best else entry["closed_loop"]["dir"]])
    out = point_figures(at, step["trial"], users)
    closed = entry["closed_loop"]
    return out.having(rps=entry["capacity_rps"], p99_ms=best["p99_ms"] if best else None,
                      p999_ms=best["p999_ms"] if best else None,
                      capacity_per_process=entry["capacity_per_process"], closed_rps=closed["rps"],
                      closed_p99_ms=closed["p99_ms"], probes=len(entry["probes"]),
                      bottleneck=entry["bottleneck"] or out.bottleneck, slo_stopped=entry["stopped"],
                      # the search stopped below a rate the generator could not offer: the capacity is a lower bound
                      generator_bound=bool(entry["stopped"]) and entry["capacity_rps"] is not None)


class ProcessesKnob(Knob):
    """The prefork pool's size: StartServers ... MaxRequestWorkers, one fixed count."""

    name = NAME
    title = "the prefork process count, sizing MaxRequestWorkers"
    directives = ("StartServers", "MinSpareServers", "MaxSpareServers", "MaxRequestWorkers", "ServerLimit")
    model = MEASURED_ONLY  # bench.tune.sizing picks among measured counts; nothing predicts between them
    default_values = ("1,2,4,8,16,32", "1,2,4,8")
    values_help = "process counts"
    folder_label = "tune-processes"

    def parse_values(self, text: str) -> list[int]:
        return parse_values(text)

    def parse(self, opts: TuneOptions) -> dict[str, Any]:
        values = self.parse_values(self.values_text(opts.values, opts.quick))
        if opts.keepalive not in ("on", "off", "both"):
            raise UserError(f"--keepalive {opts.keepalive!r} is not valid: use on or off")
        budget = parse_budget(opts.memory_budget)
        if opts.memory_budget and ":" not in opts.memory_budget:
            budget = (budget[0], "total")  # sizing the pool: a bare size is what all the children may use
        return {"values": values, "workload": opts.workload, "variant": opts.variant,
                "keepalive": opts.keepalive != "off",  # one mode per sizing sweep; "both" (the default) means on
                "max_p99_ms": opts.max_p99 if opts.max_p99 is not None else DEFAULT_MAX_P99_MS,
                "slo": check_slo(opts.slo, opts.max_p99),
                "budget": budget, "users": opts.users, "duration": opts.duration, "warmup": opts.warmup,
                "trials": opts.trials, "locust_processes": opts.locust_processes}

    def run(self, parsed: dict[str, Any], settings: StackSettings, partition: cpus.Partition) -> Path:
        return execute(settings=settings, partition=partition, **parsed)

    def summary_text(self, record: TuneData | dict[str, Any]) -> str:
        return summaries.processes_table(as_tune_data(record))


KNOB = ProcessesKnob()
