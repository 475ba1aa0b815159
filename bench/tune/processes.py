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

from dataclasses import dataclass, replace
from typing import Any

from bench.errors import UserError
from bench.load.plan import Plan
from bench.record.tune import BudgetScope, LatencyModel, TuneData, TunePlan, TuneRecord, TuneStack
from bench.record.tune_conclusions import Advice, Sizing
from bench.record.tune_points import KeepAlive, PointTrial, SweepTrial, TrialMemory
from bench.stack.knobs import StackSettings
from bench.tune import connection_budget, sizing, summaries
from bench.tune.knobs import MEASURED_ONLY, Knob, as_tune_data
from bench.tune.options import SweepArgs, TuneOptions, parse_budget
from bench.tune.sweep import Log, Sweep, SweepPoint, SweepTask
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


def fitting_values(values: list[int], settings: StackSettings, log: Log = print) -> list[int]:
    """Drop the counts whose worst case does not fit PostgreSQL's max_connections, saying so (the budget of
    `settings`' own route: through PgBouncer alone, its pool). When in-process pools bind, offer the bouncer sweep."""
    keep = []
    for n in values:
        point = replace(settings, processes=n)
        if point.connections_needed > settings.pg_max_connections:
            log(f"dropped {n} processes: {point.budget_text} + 3 = {point.connections_needed} "
                f"PostgreSQL connections > max_connections {settings.pg_max_connections}"
                f"{connection_budget.bouncer_offer(point)}")
        else:
            keep.append(n)
    if not keep:
        offer = connection_budget.bouncer_offer(replace(settings, processes=min(values)))
        raise UserError(f"no --values fit PostgreSQL's max_connections {settings.pg_max_connections} with "
                        f"--pool-size {settings.pool_size}: lower the values or raise --pg-max-connections{offer}")
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
                           max_connections=st.pg_max_connections or 0,
                           pooler_pool=st.pooler_pool_size if st.pooler else None, max_p99_ms=plan.max_p99_ms,
                           budget_mb=plan.memory_budget_mb, scope=plan.budget_scope, tolerance=tolerance)
    text = sizing.reasoning(rec, variant=plan.variant or "", workload=plan.workload or "",
                            max_connections=st.pg_max_connections or 0, slo=plan.slo)
    unmet = [p.n for p in record.points if plan.slo and not p.rps]
    if unmet:
        text += (" No offered rate met the SLO at " + ", ".join(str(v) for v in unmet) + " processes.")
    if plan.keepalive == (KeepAlive.ON,):
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


@dataclass(frozen=True)
class ProcessesArgs(SweepArgs):
    """--knob processes, parsed."""

    values: tuple[int, ...]
    keepalive: bool              # one mode per sizing sweep
    max_p99_ms: float
    slo: str | None              # size on the capacity at this SLO (open model) instead of the closed loop's rate
    budget_mb: float | None
    scope: BudgetScope


class ProcessesTask(SweepTask):
    """The sweep of the prefork pool's size: a fresh Apache of each count, loaded at max(2 x N, --users)."""

    label = "tune-processes"

    def __init__(self, args: ProcessesArgs, settings: StackSettings, log: Log):
        if args.variant not in VARIANTS:
            raise UserError(f"--variant {args.variant!r} is unknown: allowed {', '.join(VARIANTS)}")
        if args.trials < 1:
            raise UserError(f"--trials {args.trials} is not allowed: use 1 or more")
        given, settings = settings, connection_budget.pooler_sized(
            settings, [replace(settings, processes=n) for n in args.values])
        kept = fitting_values(list(args.values), settings, log)
        self.dropped = tuple(f"{n} processes (PostgreSQL connection budget)" for n in args.values if n not in kept)
        self.args, self.values, self.plan, self.log = args, kept, args.load_plan(), log
        self.mode = KeepAlive.of(args.keepalive)
        # Through PgBouncer the stack starts at the largest count, so its max_client_conn admits every point.
        first = max(kept) if settings.pooler else kept[0]
        self.settings, self.first = settings, replace(settings, processes=first, keepalive=args.keepalive)
        if line := connection_budget.pool_line(settings, given):
            log(line)
        self.skip: set[int] = set()

    def points(self) -> list[SweepPoint]:
        a = self.args
        return [SweepPoint(self.mode, n, t, replace(self.settings, processes=n, keepalive=a.keepalive), f"p{n}",
                           users_for(n, a.users)) for t in range(1, a.trials + 1) for n in self.values]

    def record_plan(self, generator_cpus: Any) -> TunePlan:
        a = self.args
        return TunePlan.new(knob=NAME, values=tuple(self.values), workload=a.workload, variant=a.variant,
                            keepalive=(self.mode,), max_p99_ms=None if a.slo else a.max_p99_ms, slo=a.slo,
                            latency_model=LatencyModel.OPEN if a.slo else LatencyModel.CLOSED,
                            memory_budget_mb=a.budget_mb, memory_budget_scope=a.scope, users=a.users,
                            users_rule="max(2 x processes, --users)",
                            duration_s=a.duration, warmup_s=a.warmup, trials=a.trials, generator_cpus=generator_cpus)

    def describe(self, point: SweepPoint, i: int, total: int) -> str:
        return (f"{point.value} processes, {point.users} users, KeepAlive {self.mode}, trial {point.trial}: "
                f"{self.args.duration:g} s")

    def measure(self, sweep: Sweep, point: SweepPoint, step: dict[str, Any]) -> PointTrial:
        if not self.args.slo:
            return super().measure(sweep, point, step)
        return slo_point(sweep, self.plan, step, point.settings, f"trials/{step['seq']:03d}-{point.folder}",
                         point.users or self.args.users, self.args.slo, self.log)

    def figures(self, result: SweepTrial, point: SweepPoint) -> PointTrial:
        return point_figures(result, point.trial, point.users or self.args.users)

    def progress(self, trial: PointTrial) -> str:
        return (f"{trial.rps or 0:,.0f} req/s{' at the SLO' if self.args.slo else ''}, p99 {trial.p99_ms or 0:.2f} ms, "
                f"{trial.requests_per_cpu_second or 0:,.0f} req/CPU-s, PSS {trial.pss_mb or 0:.1f} MB, "
                f"limit {trial.bottleneck}")

    def skips(self, point: SweepPoint) -> bool:
        return point.value in self.skip

    def measured(self, record: TuneRecord, trial: PointTrial, log: Log) -> None:
        drop_over_memory(record, [v for v in self.values if v not in self.skip], trial.pss_mb, self.args.budget_mb,
                         self.args.scope, self.skip, log)

    def conclude(self, record: TuneRecord, complete: bool) -> None:
        rec, adv = conclude(record.data)
        record.update(sizing=rec)
        record.finish({}, adv, complete)


def drop_over_memory(record: TuneRecord, values: list[int], pss_mb: float | None, budget_mb: float | None,
                     scope: str, skip: set[int], log: Log) -> None:
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

    def __init__(self, sweep: Any, plan: Plan, folder: str, users: int, log: Log):
        self.sweep, self.plan, self.folder, self.users, self.log = sweep, plan, folder, users, log
        self.results: dict[str, dict] = {}

    def trial(self, step: dict, rel: str | None = None, users: int | None = None) -> dict:
        result = self.sweep.trial(self.plan, step, f"{self.folder}/{rel}", users=users or self.users)
        self.results[result["dir"]] = result
        return result


def slo_point(sweep: Any, plan: Plan, step: dict, settings: StackSettings, folder: str, users: int, slo: str,
              log: Log = print) -> PointTrial:
    """One --slo point: a fresh Apache, the SLO search on it; the point's figures are the capacity's probe."""
    from bench.load import slo_search

    sweep.start(settings)
    ctx = _PointContext(sweep, plan, folder, users, log)
    entry = slo_search.search_cell(ctx, step["workload"], step["variant"], None, slo)
    log("    " + slo_search.summary_line(entry))
    best = next((p for p in entry["probes"] if p["met"] and p["rate"] == entry["capacity_rps"]), None)
    # memory, CPU and sessions: of the probe at the capacity (of the closed loop when no rate met the SLO)
    at = sweep.read(ctx.results[best["dir"] if best else entry["closed_loop"]["dir"]])
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
    folder_label = ProcessesTask.label

    def parse_values(self, text: str) -> list[int]:
        return parse_values(text)

    def parse(self, opts: TuneOptions) -> ProcessesArgs:
        values = self.parse_values(self.values_text(opts.values, opts.quick))
        if opts.keepalive not in ("on", "off", "both"):
            raise UserError(f"--keepalive {opts.keepalive!r} is not valid: use on or off")
        budget_mb, scope = parse_budget(opts.memory_budget)
        if opts.memory_budget and ":" not in opts.memory_budget:
            scope = BudgetScope.TOTAL  # sizing the pool: a bare size is what all the children may use
        return ProcessesArgs(
            **ProcessesArgs.common(opts), values=tuple(values),
            keepalive=opts.keepalive != "off",  # one mode per sizing sweep; "both" (the default) means on
            max_p99_ms=opts.max_p99 if opts.max_p99 is not None else DEFAULT_MAX_P99_MS,
            slo=check_slo(opts.slo, opts.max_p99), budget_mb=budget_mb, scope=scope)

    def task(self, args: ProcessesArgs, settings: StackSettings, log: Log) -> ProcessesTask:
        return ProcessesTask(args, settings, log)

    def summary_text(self, record: TuneData | dict[str, Any]) -> str:
        return summaries.processes_table(as_tune_data(record))
