"""`bench tune --knob processes`: sweep the number of prefork processes and size MaxRequestWorkers.

Each point is a fresh Apache start with a fixed pool of N children (a pool per process), loaded at
users = max(2 x N, --users): every child has a request in flight and one queued, so the server, not the
load, is the limit unless the generator is (each trial records its bottleneck). The saturation ladder of
bench/load/saturation.py would cost 2-4 extra trials per point; at 2 x N a prefork pool is already saturated
(one request per child at a time), so the ladder is not used. Trials are interleaved (every point, then
every point again) and tune.json is rewritten after each. The recommendation is bench.tune.sizing's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import console
from bench.errors import UserError
from bench.load.plan import Plan
from bench.record.tune import TuneRecord
from bench.stack import cpus
from bench.stack.knobs import StackSettings
from bench.tune import sizing
from bench.tune.knobs import MEASURED_ONLY, Knob
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


def sizing_points(record: dict) -> list[sizing.SizingPoint]:
    return [{"value": p["value"], "rps": p.get("rps"), "p99_ms": p.get("p99_ms"), "pss_mb": p.get("pss_mb")}
            for p in record["points"]]


def conclude(record: dict) -> tuple[dict, dict]:
    """(the recommendation, the advice: directive lines and reasoning) from tune.json's data."""
    plan, st = record["plan"], record["stack"]
    rec = sizing.recommend(sizing_points(record), variant=plan["variant"], pool_size=st["pool_size"],
                           max_connections=st["pg_max_connections"], max_p99_ms=plan.get("max_p99_ms"),
                           budget_mb=plan.get("memory_budget_mb"), scope=plan.get("memory_budget_scope", "total"))
    text = sizing.reasoning(rec, variant=plan["variant"], workload=plan["workload"],
                            max_connections=st["pg_max_connections"])
    if plan.get("keepalive") == ["on"]:
        text += (" With keep-alive, a client beyond the N held connections waits for a whole kept-alive connection "
                 "(up to MaxKeepAliveRequests requests), so p99 at 2 x N users measures that queue; "
                 "--keepalive off queues per request.")
    bounds = [p for p in record["points"] if p.get("generator_bound")]
    if bounds:
        text += (" Generator-bound at " + ", ".join(str(p["value"]) for p in bounds) + " processes: those rates "
                 "are lower bounds; load from more machines (bench run --workers) to see past them.")
    if record.get("dropped"):
        text += " Not measured: " + "; ".join(record["dropped"]) + "."
    return rec, {"directives": sizing.directives(rec["value"]) if rec.get("value") else [], "reasoning": text,
                 "binding": rec.get("binding")}


def execute(values: list[int], workload: str, variant: str, keepalive: bool, max_p99_ms: float,
            budget: tuple[float | None, str], settings: StackSettings, users: int, duration: float,
            warmup: float, trials: int = 1, locust_processes: int = 1, log=print,
            partition: cpus.Partition | None = None) -> Path:
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
            plan={"knob": NAME, "values": values, "workload": workload, "variant": variant, "keepalive": [mode],
                  "max_p99_ms": max_p99_ms, "memory_budget_mb": budget_mb, "memory_budget_scope": scope,
                  "users": users, "users_rule": "max(2 x processes, --users)", "duration_s": duration,
                  "warmup_s": warmup, "trials": trials, "generator_cpus": sweep.partition.generator_list},
            stack=settings.to_dict(), environment=sweep.environment(),
            todo=[{"keepalive": mode, "value": n, "trial": t} for t, n in todo])
        record.data["dropped"] = dropped
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
                result, _ = sweep.point(plan, step, replace(settings, processes=n, keepalive=keepalive),
                                        rel=f"trials/{i:03d}-p{n}", users=u)
                b = result["bottleneck"]
                measured = {"trial": trial_no, "dir": result["dir"], "users": u, "rps": result["locust"]["rps"],
                            "server_rps": (result["server"] or {}).get("rps"), "p99_ms": result["locust"]["p99_ms"],
                            "server_p99_ms": (result["server"] or {}).get("p99_ms"),
                            "failures": result["locust"]["failures"], "generator_bound": result["generator_bound"],
                            "bottleneck": b["bottleneck"], "server_util": b.get("server_util"),
                            "generator_busiest": b.get("generator_busiest"),
                            "requests_per_cpu_second": result["requests_per_cpu_second"],
                            "pss_mb": result["memory"]["pss_mb_per_process"],
                            "rss_mb": result["memory"]["rss_mb_per_process"],
                            "db_sessions_per_1000_requests": result["db_sessions_per_1000_requests"],
                            "faults": result["faults"], "flags": result["flags"]}
                record.add_trial(mode, n, measured)
                log(f"    {measured['rps'] or 0:,.0f} req/s, p99 {measured['p99_ms'] or 0:.2f} ms, "
                    f"{measured['requests_per_cpu_second'] or 0:,.0f} req/CPU-s, PSS {measured['pss_mb'] or 0:.1f} "
                    f"MB, limit {b['bottleneck']}")
                for m in over_memory([v for v in values if v not in skip], measured["pss_mb"], budget_mb, scope):
                    skip.add(m)
                    record.data["dropped"].append(f"{m} processes (x {measured['pss_mb']:.1f} MB PSS passes "
                                                  "--memory-budget)")
                    record.data["missing"] = [x for x in record.data["missing"] if x["value"] != m]
                    log(f"dropped {m} processes: {m} x {measured['pss_mb']:.1f} MB PSS passes the memory budget")
            complete = True
        finally:
            rec, adv = conclude(record.data)
            record.data["sizing"] = rec
            record.finish({}, adv, complete)
    return sweep.run_dir


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
                "budget": budget, "users": opts.users, "duration": opts.duration, "warmup": opts.warmup,
                "trials": opts.trials, "locust_processes": opts.locust_processes}

    def run(self, parsed: dict[str, Any], settings: StackSettings, partition: cpus.Partition) -> Path:
        return execute(settings=settings, partition=partition, **parsed)

    def summary_text(self, record: dict[str, Any]) -> str:
        return console.processes_table(record)


KNOB = ProcessesKnob()
