"""`bench tune --knob threads` (thread counts at the fixed --processes) and `--knob processes,threads` (a
grid, `--values 1,2x1,4`: process counts x thread counts): size processes x threads under the PostgreSQL
connection budget.

Each point is a fresh Apache with P processes of T threads (mod_python: the worker MPM unless --mpm event;
mod_wsgi daemon mode: `WSGIDaemonProcess processes=P threads=T`), loaded at max(2 x P x T, --users) users so
every request slot is busy and one request queued behind it. The recommendation (`recommend`, pure) follows
`--knob processes`: the fewest request slots within KNEE_TOLERANCE of the best rate (fewer processes on a tie:
less memory), among the points whose connections (P x (pool + T) + 3), memory (P x PSS) and p99 fit; the
constraint that moved it off the unconstrained knee is named. Measured only: nothing predicts between points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bench.errors import UserError
from bench.record.tune import BudgetScope, TuneData, TunePlan, TuneRecord, TuneStack
from bench.record.tune_conclusions import Advice, Binding, Sizing
from bench.record.tune_points import KeepAlive, Point, PointTrial, SweepTrial, TrialMemory
from bench.stack import mpm
from bench.stack.knobs import StackSettings
from bench.tune import connection_budget, summaries
from bench.tune.knobs import MEASURED_ONLY, Knob, as_tune_data
from bench.tune.options import SweepArgs, TuneOptions, parse_budget
from bench.tune.sizing import KNEE_TOLERANCE, POOLED_VARIANTS, RESERVED_CONNECTIONS
from bench.tune.sweep import Log, SweepPoint, SweepTask
from bench.vocabulary import VARIANTS, through_pooler

DEFAULT_MAX_P99_MS = 100.0


def _counts(text: str, what: str, example: str, shown: str | None = None) -> list[int]:
    try:
        values = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        values = []
    if not values or values[0] < 1 or values[-1] > mpm.MAX_THREADS:
        raise UserError(f"--values {shown or text!r} is not a comma list of {what} 1..{mpm.MAX_THREADS} "
                        f"(e.g. {example})")
    return values


def parse_grid(text: str) -> list[tuple[int, int]]:
    """'1,2x1,4' -> [(1, 1), (1, 4), (2, 1), (2, 4)]: processes x threads."""
    procs_text, sep, threads_text = text.partition("x")
    if not sep:
        raise UserError(f"--values {text!r} is not PROCESSES x THREADS: two comma lists joined by x (e.g. 1,2x1,4)")
    ps = _counts(procs_text, "process counts", "1,2x1,4", text)
    ts = _counts(threads_text, "thread counts", "1,2x1,4", text)
    return [(p, t) for p in ps for t in ts]


def connections(p: int, t: int, variant: str, pool_size: int, pooler_pool: int | None = None) -> int:
    """Peak PostgreSQL connections of P processes x T threads (+ the suite's reserved ones): a pooled variant
    keeps its pool of max(pool, T) per process; a connect-per-request one opens one per busy thread; through
    PgBouncer (`pooler_pool`: its pool) no more than that pool reach PostgreSQL."""
    per = max(pool_size, t) if variant in POOLED_VARIANTS else t
    if pooler_pool is not None and through_pooler(variant):
        return min(p * per, pooler_pool) + RESERVED_CONNECTIONS
    return p * per + RESERVED_CONNECTIONS


def recommend(points: list[Point], *, variant: str, pool_size: int, max_connections: int,
              pooler_pool: int | None = None,
              max_p99_ms: float | None = None, budget_mb: float | None = None, scope: str = "total",
              tolerance: float = KNEE_TOLERANCE) -> Sizing:
    """The (processes, threads) to use and the constraint that bound it, from the points' processes, threads,
    rps, p99_ms and pss_mb (per process)."""
    # A point's processes and threads are medians over its trials (floats in tune.json): the counts as ints.
    measured = [p for p in points if p.rps and p.processes and p.threads]
    if not measured:
        return Sizing.new(value=None, binding=None, reason="no point was measured")

    def shape(p: Point) -> tuple[int, int]:
        return int(p.processes or 0), int(p.threads or 0)

    def fails(p: Point) -> Binding | None:
        procs, threads = shape(p)
        if connections(procs, threads, variant, pool_size, pooler_pool) > max_connections:
            return Binding.CONNECTIONS
        if budget_mb is not None and p.pss_mb:
            if (p.pss_mb if scope == BudgetScope.CHILD else procs * p.pss_mb) > budget_mb:
                return Binding.MEMORY
        if max_p99_ms is not None and p.p99_ms is not None and p.p99_ms > max_p99_ms:
            return Binding.P99
        return None

    def knee(pts: list[Point]) -> Point:
        best = max(p.rps or 0 for p in pts)
        near = [p for p in pts if (p.rps or 0) >= best * (1 - tolerance)]
        return min(near, key=lambda p: (shape(p)[0] * shape(p)[1], shape(p)[0]))

    free = knee(measured)
    fits = [p for p in measured if fails(p) is None]
    out = Sizing.new(best_rps=max(p.rps or 0 for p in measured), knee=shape(free), max_p99_ms=max_p99_ms)
    if not fits:
        return out.having(value=None, binding=fails(free), reason=f"no measured point fits ({fails(free)})")
    chosen = knee(fits)
    return out.having(value=shape(chosen), rps=chosen.rps, p99_ms=chosen.p99_ms,
                      binding=Binding.KNEE if chosen is free else fails(free),
                      connections=connections(*shape(chosen), variant, pool_size, pooler_pool))


def directives(settings: StackSettings, p: int, t: int) -> list[str]:
    """What to paste for the chosen server: the MPM's fixed pool, and under mod_wsgi daemon mode the daemons."""
    s = _point_settings(settings, p, t)
    pool = mpm.lines(s, "")["mpm_pool"].splitlines()[1:]
    if mpm.daemon(s):
        return [f"WSGIDaemonProcess bench processes={p} threads={t}", *pool]
    return pool


BINDING_TEXT = {
    Binding.KNEE: "the knee bound it: no other point served more than {tol:.0f}% more requests/s with fewer slots",
    Binding.P99: "the p99 bound ({p99:g} ms) bound it: the knee point queued longer than that",
    Binding.MEMORY: "memory bound it: the knee point's processes x PSS passed --memory-budget",
    Binding.CONNECTIONS: "PostgreSQL's connection budget bound it: the knee point needs more than "
                         "max_connections {maxc}",
}


def conclude(record: TuneData, settings: StackSettings) -> tuple[Sizing, Advice]:
    plan, st = record.plan or TunePlan.from_json({}), record.stack or TuneStack.from_json({})
    maxc = st.pg_max_connections or 0
    rec = recommend(list(record.points), variant=plan.variant or "", pool_size=st.pool_size or 0,
                    max_connections=maxc, pooler_pool=st.pooler_pool_size if st.pooler else None,
                    max_p99_ms=plan.max_p99_ms, budget_mb=plan.memory_budget_mb, scope=plan.budget_scope)
    shape, knee = rec.shape, rec.knee
    if shape is None or rec.binding is None or not isinstance(knee, tuple):
        return rec, Advice.new(directives=(), reasoning=rec.reason or "nothing to recommend", binding=None)
    p, t = shape
    text = (f"{plan.variant}/{plan.workload}: {p} process(es) x {t} thread(s) served {rec.rps or 0:,.0f} req/s "
            f"(best measured {rec.best_rps or 0:,.0f}, unconstrained knee {knee[0]} x {knee[1]}); "
            + BINDING_TEXT[rec.binding].format(tol=100 * KNEE_TOLERANCE, p99=rec.max_p99_ms or 0, maxc=maxc)
            + f". It needs {rec.connections} PostgreSQL connections of max_connections {maxc}.")
    return rec, Advice.new(directives=tuple(directives(settings, p, t)), reasoning=text, binding=rec.binding)


def _point_settings(settings: StackSettings, p: int, t: int) -> StackSettings:
    s = replace(settings, processes=p, threads=t)
    if t > 1 and s.mpm == "prefork" and not mpm.daemon(s):
        s = replace(s, mpm="worker")  # mod_python / mod_wsgi embedded: threads need a threaded MPM
    return s


@dataclass(frozen=True)
class ThreadsArgs(SweepArgs):
    """--knob threads or processes,threads, parsed (the grid needs --processes: `ThreadsKnob.grid`)."""

    values_text: str
    max_p99_ms: float
    budget_mb: float | None
    scope: BudgetScope


class ThreadsTask(SweepTask):
    """The sweep of processes x threads: a fresh Apache of each shape, loaded at max(2 x processes x threads,
    --users)."""

    def __init__(self, knob: str, grid: list[tuple[int, int]], args: ThreadsArgs, settings: StackSettings, log: Log):
        if args.variant not in VARIANTS:
            raise UserError(f"--variant {args.variant!r} is unknown: allowed {', '.join(VARIANTS)}")
        given, settings = settings, connection_budget.pooler_sized(
            settings, [_point_settings(settings, p, t) for p, t in grid])
        keep = [(p, t) for p, t in grid
                if _point_settings(settings, p, t).connections_needed <= settings.pg_max_connections]
        self.dropped = tuple(f"{p} x {t} (PostgreSQL connection budget)" for p, t in grid if (p, t) not in keep)
        offer = connection_budget.bouncer_offer(connection_budget.largest(
            [_point_settings(settings, p, t) for p, t in grid]))
        if not keep:
            raise UserError(f"no --values fit PostgreSQL's max_connections {settings.pg_max_connections}: lower the "
                            f"values or raise --pg-max-connections{offer}")
        for d in self.dropped:
            log(f"dropped {d}")
        if self.dropped and offer:
            log(f"the dropped shapes fit {connection_budget.BOUNCER_SWEEP}")
        if line := connection_budget.pool_line(settings, given):
            log(line)
        for p, t in keep:
            mpm.check(_point_settings(settings, p, t))  # before anything starts
        self.knob, self.keep, self.args, self.plan, self.log = knob, keep, args, args.load_plan(), log
        self.label = f"tune-{knob.replace(',', '-')}"
        # Through PgBouncer the stack starts at the largest shape, so its max_client_conn admits every point.
        shapes = [_point_settings(settings, p, t) for p, t in keep]
        self.settings = settings
        self.first = connection_budget.largest(shapes) if settings.pooler else shapes[0]
        # tune.json's numeric point value: the threads (one dimension), or the shape's index in the grid
        self.value = {pt: (pt[1] if knob == "threads" else i) for i, pt in enumerate(keep)}

    def points(self) -> list[SweepPoint]:
        a = self.args
        return [SweepPoint(KeepAlive.ON, self.value[(p, t)], n, _point_settings(self.settings, p, t), f"p{p}t{t}",
                           max(2 * p * t, a.users)) for n in range(1, a.trials + 1) for p, t in self.keep]

    def record_plan(self, generator_cpus: Any) -> TunePlan:
        a = self.args
        return TunePlan.new(knob=self.knob, values=tuple(self.keep), workload=a.workload, variant=a.variant,
                            keepalive=(KeepAlive.ON,), max_p99_ms=a.max_p99_ms, memory_budget_mb=a.budget_mb,
                            memory_budget_scope=a.scope, users=a.users,
                            users_rule="max(2 x processes x threads, --users)", duration_s=a.duration,
                            warmup_s=a.warmup, trials=a.trials, mpm=self.settings.mpm, generator_cpus=generator_cpus)

    def describe(self, point: SweepPoint, i: int, total: int) -> str:
        s = point.settings
        return (f"{s.processes} processes x {s.threads} threads ({s.mpm}), {point.users} users, trial {point.trial}: "
                f"{self.args.duration:g} s")

    def figures(self, result: SweepTrial, point: SweepPoint) -> PointTrial:
        s = point.settings
        return point_figures(result, point.trial, s.processes, s.threads, point.users or self.args.users)

    def progress(self, trial: PointTrial) -> str:
        return (f"{trial.rps or 0:,.0f} req/s, p99 {trial.p99_ms or 0:.2f} ms, busy threads "
                f"{trial.busy_threads or 0:.1f}/process, CPU {trial.cpu_pct_per_process or 0:.0f}%/process, "
                f"limit {trial.bottleneck}")

    def conclude(self, record: TuneRecord, complete: bool) -> None:
        rec, adv = conclude(record.data, self.settings)
        record.update(sizing=rec)
        record.finish({}, adv, complete)


def point_figures(result: SweepTrial, trial_no: int, p: int, t: int, users: int) -> PointTrial:
    """A threads point's trial as tune.json keeps it: the pool's figures and each process's threads and CPU."""
    per = result.per_process_threads
    memory = result.memory or TrialMemory.from_json({})
    return result.point_trial(
        trial_no, processes=p, threads=t, users=users, failures=result.client.failures,
        generator_bound=result.generator_bound, bottleneck=result.limit,
        requests_per_cpu_second=result.requests_per_cpu_second, pss_mb=memory.pss_mb_per_process,
        busy_threads=_med([x.busy_threads for x in per if x.busy_threads is not None]),
        cpu_pct_per_process=_med([x.cpu_pct for x in per if x.cpu_pct is not None]),
        faults=result.faults, flags=result.flags)


def _med(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


class ThreadsKnob(Knob):
    """Threads per process at the fixed --processes: ThreadsPerChild / WSGIDaemonProcess threads=."""

    name = "threads"
    title = "threads per process at the fixed --processes (ThreadsPerChild, WSGIDaemonProcess threads=)"
    directives = ("ThreadsPerChild", "ThreadLimit", "MaxRequestWorkers", "WSGIDaemonProcess threads")
    model = MEASURED_ONLY
    default_values = ("1,2,4,8,16", "1,4")
    values_help = "thread counts"
    folder_label = "tune-threads"

    def parse_values(self, text: str) -> list[int]:
        return _counts(text, "thread counts", "1,2,4,8")

    def grid(self, text: str, processes: int) -> list[tuple[int, int]]:
        return [(processes, t) for t in self.parse_values(text)]

    def parse(self, opts: TuneOptions) -> ThreadsArgs:
        text = self.values_text(opts.values, opts.quick)
        self.parse_values(text)
        budget_mb, scope = parse_budget(opts.memory_budget)
        if opts.memory_budget and ":" not in opts.memory_budget:
            scope = BudgetScope.TOTAL
        if opts.trials < 1:
            raise UserError(f"--trials {opts.trials} is not allowed: use 1 or more")
        return ThreadsArgs(**ThreadsArgs.common(opts), values_text=text,
                           max_p99_ms=opts.max_p99 if opts.max_p99 is not None else DEFAULT_MAX_P99_MS,
                           budget_mb=budget_mb, scope=scope)

    def task(self, args: ThreadsArgs, settings: StackSettings, log: Log) -> ThreadsTask:
        return ThreadsTask(self.name, self.grid(args.values_text, settings.processes), args, settings, log)

    def summary_text(self, record: TuneData | dict[str, Any]) -> str:
        return summaries.threads_table(as_tune_data(record))


class GridKnob(ThreadsKnob):
    """Processes x threads together: the 2-D sweep."""

    name = "processes,threads"
    title = "processes x threads together (a grid: --values 1,2x1,4)"
    directives = ("ServerLimit", "ThreadsPerChild", "MaxRequestWorkers", "WSGIDaemonProcess processes= threads=")
    default_values = ("1,2,4x1,4,16", "1,2x1,4")
    values_help = "PROCESSES x THREADS, two comma lists joined by x"
    folder_label = "tune-processes-threads"

    def parse_values(self, text: str) -> list[tuple[int, int]]:  # type: ignore[override]
        return parse_grid(text)

    def grid(self, text: str, processes: int) -> list[tuple[int, int]]:
        return parse_grid(text)


