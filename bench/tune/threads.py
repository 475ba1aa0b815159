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

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load.plan import Plan
from bench.record.tune import TuneRecord
from bench.stack import cpus, mpm
from bench.stack.knobs import StackSettings
from bench.tune.knobs import MEASURED_ONLY, Knob
from bench.tune.options import TuneOptions, parse_budget
from bench.tune.sizing import KNEE_TOLERANCE, POOLED_VARIANTS, RESERVED_CONNECTIONS
from bench.vocabulary import VARIANTS

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


def connections(p: int, t: int, variant: str, pool_size: int) -> int:
    """Peak PostgreSQL connections of P processes x T threads (+ the suite's reserved ones): a pooled variant
    keeps its pool of max(pool, T) per process; a connect-per-request one opens one per busy thread."""
    per = max(pool_size, t) if variant in POOLED_VARIANTS else t
    return p * per + RESERVED_CONNECTIONS


def recommend(points: list[dict[str, Any]], *, variant: str, pool_size: int, max_connections: int,
              max_p99_ms: float | None = None, budget_mb: float | None = None, scope: str = "total",
              tolerance: float = KNEE_TOLERANCE) -> dict[str, Any]:
    """The (processes, threads) to use and the constraint that bound it. Points: processes, threads, rps,
    p99_ms, pss_mb (per process)."""
    # A point's processes and threads are medians over its trials (floats in tune.json): the counts as ints.
    measured = [p | {"processes": int(p["processes"]), "threads": int(p["threads"])}
                for p in points if p.get("rps") and p.get("processes") and p.get("threads")]
    if not measured:
        return {"value": None, "binding": None, "reason": "no point was measured"}

    def fails(p: dict[str, Any]) -> str | None:
        if connections(p["processes"], p["threads"], variant, pool_size) > max_connections:
            return "connections"
        if budget_mb is not None and p.get("pss_mb"):
            if (p["pss_mb"] if scope == "child" else p["processes"] * p["pss_mb"]) > budget_mb:
                return "memory"
        if max_p99_ms is not None and p.get("p99_ms") is not None and p["p99_ms"] > max_p99_ms:
            return "p99"
        return None

    def knee(pts: list[dict[str, Any]]) -> dict[str, Any]:
        best = max(p["rps"] for p in pts)
        near = [p for p in pts if p["rps"] >= best * (1 - tolerance)]
        return min(near, key=lambda p: (p["processes"] * p["threads"], p["processes"]))

    free = knee(measured)
    fits = [p for p in measured if fails(p) is None]
    out = {"best_rps": max(p["rps"] for p in measured), "knee": [free["processes"], free["threads"]],
           "max_p99_ms": max_p99_ms}
    if not fits:
        return out | {"value": None, "binding": fails(free), "reason": f"no measured point fits ({fails(free)})"}
    chosen = knee(fits)
    binding = "knee" if chosen is free else fails(free)
    return out | {"value": [chosen["processes"], chosen["threads"]], "rps": chosen["rps"],
                  "p99_ms": chosen.get("p99_ms"), "binding": binding,
                  "connections": connections(chosen["processes"], chosen["threads"], variant, pool_size)}


def directives(settings: StackSettings, p: int, t: int) -> list[str]:
    """What to paste for the chosen server: the MPM's fixed pool, and under mod_wsgi daemon mode the daemons."""
    s = _point_settings(settings, p, t)
    pool = mpm.lines(s, "")["mpm_pool"].splitlines()[1:]
    if mpm.daemon(s):
        return [f"WSGIDaemonProcess bench processes={p} threads={t}", *pool]
    return pool


BINDING_TEXT = {
    "knee": "the knee bound it: no other point served more than {tol:.0f}% more requests/s with fewer slots",
    "p99": "the p99 bound ({p99:g} ms) bound it: the knee point queued longer than that",
    "memory": "memory bound it: the knee point's processes x PSS passed --memory-budget",
    "connections": "PostgreSQL's connection budget bound it: the knee point needs more than max_connections {maxc}",
}


def conclude(record: dict[str, Any], settings: StackSettings) -> tuple[dict, dict]:
    plan, st = record["plan"], record["stack"]
    rec = recommend(record["points"], variant=plan["variant"], pool_size=st["pool_size"],
                    max_connections=st["pg_max_connections"], max_p99_ms=plan.get("max_p99_ms"),
                    budget_mb=plan.get("memory_budget_mb"), scope=plan.get("memory_budget_scope", "total"))
    if rec.get("value") is None:
        return rec, {"directives": [], "reasoning": rec.get("reason", "nothing to recommend"), "binding": None}
    p, t = rec["value"]
    text = (f"{plan['variant']}/{plan['workload']}: {p} process(es) x {t} thread(s) served {rec['rps']:,.0f} req/s "
            f"(best measured {rec['best_rps']:,.0f}, unconstrained knee {rec['knee'][0]} x {rec['knee'][1]}); "
            + BINDING_TEXT[rec["binding"]].format(tol=100 * KNEE_TOLERANCE, p99=rec.get("max_p99_ms") or 0,
                                                  maxc=st["pg_max_connections"])
            + f". It needs {rec['connections']} PostgreSQL connections of max_connections {st['pg_max_connections']}.")
    return rec, {"directives": directives(settings, p, t), "reasoning": text, "binding": rec["binding"]}


def _point_settings(settings: StackSettings, p: int, t: int) -> StackSettings:
    s = replace(settings, processes=p, threads=t)
    if t > 1 and s.mpm == "prefork" and not mpm.daemon(s):
        s = replace(s, mpm="worker")  # mod_python / mod_wsgi embedded: threads need a threaded MPM
    return s


def execute(grid: list[tuple[int, int]], knob: str, workload: str, variant: str, max_p99_ms: float,
            budget: tuple[float | None, str], settings: StackSettings, users: int, duration: float,
            warmup: float, trials: int = 1, locust_processes: int = 1, log=print,
            partition: cpus.Partition | None = None) -> Path:
    from bench.load.run import prime
    from bench.tune.sweep import Sweep

    if variant not in VARIANTS:
        raise UserError(f"--variant {variant!r} is unknown: allowed {', '.join(VARIANTS)}")
    budget_mb, scope = budget
    keep = [(p, t) for p, t in grid
            if _point_settings(settings, p, t).connections_needed <= settings.pg_max_connections]
    dropped = [f"{p} x {t} (PostgreSQL connection budget)" for p, t in grid if (p, t) not in keep]
    if not keep:
        raise UserError(f"no --values fit PostgreSQL's max_connections {settings.pg_max_connections}: lower the "
                        "values or raise --pg-max-connections")
    for d in dropped:
        log(f"dropped {d}")
    for p, t in keep:
        mpm.check(_point_settings(settings, p, t))  # before anything starts
    plan = Plan(workloads=[workload], variants=[variant], users=users, duration_s=duration, warmup_s=warmup,
                trials=1, locust_processes=locust_processes).validate()
    one_d = knob == "threads"
    todo = [(n, p, t) for n in range(1, trials + 1) for p, t in keep]
    value = {pt: (pt[1] if one_d else i) for i, pt in enumerate(keep)}  # tune.json's numeric point value
    with Sweep(_point_settings(settings, *keep[0]), f"tune-{knob.replace(',', '-')}", partition) as sweep:
        record = TuneRecord(
            sweep.run_dir,
            plan={"knob": knob, "values": [list(pt) for pt in keep], "workload": workload, "variant": variant,
                  "keepalive": ["on"], "max_p99_ms": max_p99_ms, "memory_budget_mb": budget_mb,
                  "memory_budget_scope": scope, "users": users, "users_rule": "max(2 x processes x threads, --users)",
                  "duration_s": duration, "warmup_s": warmup, "trials": trials, "mpm": settings.mpm,
                  "generator_cpus": sweep.partition.generator_list},
            stack=settings.to_dict(), environment=sweep.environment(),
            todo=[{"keepalive": "on", "value": value[(p, t)], "trial": n} for n, p, t in todo])
        record.data["dropped"] = dropped
        complete = False
        try:
            prime(sweep.url, plan, settings=settings)
            for i, (n, p, t) in enumerate(todo, 1):
                u = max(2 * p * t, users)
                s = _point_settings(settings, p, t)
                log(f"[{i}/{len(todo)}] {p} processes x {t} threads ({s.mpm}), {u} users, trial {n}: {duration:g} s")
                step = {"seq": i, "trial": n, "workload": workload, "variant": variant, "users": u}
                result, _ = sweep.point(plan, step, s, rel=f"trials/{i:03d}-p{p}t{t}", users=u)
                per = result.get("per_process_threads") or []
                b = result["bottleneck"]
                measured = {"trial": n, "dir": result["dir"], "processes": p, "threads": t, "users": u,
                            "rps": result["locust"]["rps"], "p99_ms": result["locust"]["p99_ms"],
                            "server_rps": (result["server"] or {}).get("rps"),
                            "failures": result["locust"]["failures"], "generator_bound": result["generator_bound"],
                            "bottleneck": b["bottleneck"], "requests_per_cpu_second": result["requests_per_cpu_second"],
                            "pss_mb": result["memory"]["pss_mb_per_process"],
                            "busy_threads": _med([x["busy_threads"] for x in per]),
                            "cpu_pct_per_process": _med([x["cpu_pct"] for x in per if x["cpu_pct"] is not None]),
                            "faults": result["faults"], "flags": result["flags"]}
                record.add_trial("on", value[(p, t)], measured)
                log(f"    {measured['rps'] or 0:,.0f} req/s, p99 {measured['p99_ms'] or 0:.2f} ms, busy threads "
                    f"{measured['busy_threads'] or 0:.1f}/process, CPU {measured['cpu_pct_per_process'] or 0:.0f}%"
                    f"/process, limit {b['bottleneck']}")
            complete = True
        finally:
            rec, adv = conclude(record.data, settings)
            record.data["sizing"] = rec
            record.finish({}, adv, complete)
    return sweep.run_dir


def _med(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def summary_text(record: dict[str, Any]) -> str:
    rec = (record.get("sizing") or {}).get("value")
    lines = [f"{'procs':>5} {'threads':>7} {'users':>5} {'req/s':>9} {'p99 ms':>8} {'req/CPU-s':>9} "
             f"{'busy thr':>8} {'CPU %/proc':>10} {'PSS MB':>7} {'limit':>9}"]
    for p in sorted(record["points"], key=lambda p: (p.get("processes") or 0, p.get("threads") or 0)):
        pt = [p.get("processes"), p.get("threads")]
        lines.append(f"{_fmt(pt[0], 'd'):>5} {_fmt(pt[1], 'd'):>7} {_fmt(p['trials'][0].get('users'), 'd'):>5} "
                     f"{_fmt(p.get('rps'), ',.0f'):>9} {_fmt(p.get('p99_ms'), '.2f'):>8} "
                     f"{_fmt(p.get('requests_per_cpu_second'), ',.0f'):>9} {_fmt(p.get('busy_threads'), '.1f'):>8} "
                     f"{_fmt(p.get('cpu_pct_per_process'), '.0f'):>10} {_fmt(p.get('pss_mb'), '.1f'):>7} "
                     f"{'/'.join(sorted({t.get('bottleneck') or '-' for t in p['trials']})):>9}"
                     + ("  <- recommended" if rec and [int(x) for x in pt] == rec else ""))
    a = record.get("advice") or {}
    return "\n".join(lines + ["", f"recommended (binding: {a.get('binding') or '-'}):"]
                     + [f"    {d}" for d in a.get("directives", [])] + ["", a.get("reasoning", "")])


def _fmt(v: Any, spec: str) -> str:
    if v is None:
        return "-"
    return format(int(v) if spec == "d" else v, spec)


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

    def parse(self, opts: TuneOptions) -> dict[str, Any]:
        text = self.values_text(opts.values, opts.quick)
        self.parse_values(text)
        budget = parse_budget(opts.memory_budget)
        if opts.memory_budget and ":" not in opts.memory_budget:
            budget = (budget[0], "total")
        if opts.trials < 1:
            raise UserError(f"--trials {opts.trials} is not allowed: use 1 or more")
        return {"values_text": text, "workload": opts.workload, "variant": opts.variant,
                "max_p99_ms": opts.max_p99 if opts.max_p99 is not None else DEFAULT_MAX_P99_MS,
                "budget": budget, "users": opts.users, "duration": opts.duration, "warmup": opts.warmup,
                "trials": opts.trials, "locust_processes": opts.locust_processes}

    def run(self, parsed: dict[str, Any], settings: StackSettings, partition: cpus.Partition) -> Path:
        args = dict(parsed)
        grid = self.grid(args.pop("values_text"), settings.processes)
        return execute(grid=grid, knob=self.name, settings=settings, partition=partition, **args)

    def summary_text(self, record: dict[str, Any]) -> str:
        return summary_text(record)


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


KNOB = ThreadsKnob()
GRID_KNOB = GridKnob()
