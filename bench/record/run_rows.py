"""The rows of results.json as typed objects, each checked once where it is read (`of`): a number is a float
or None (missing, null or not a number), never 0 for "not recorded"; a label is a str or None.

`bench.record.run_folder.Run` builds them when it opens a folder; the reports read their attributes and
never look into the record's dicts again. `raw` keeps what was recorded, for the few places that hand it on
unchanged (summary.json, the trial's files).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.record.bottleneck import Verdict, cell_label
from bench.record.json_record import JsonRecord, derived, optional
from bench.record.trial import CellKey, CpuFigures, ProcessFigures, ServerFigures, TrialRecord, WorkerFigures
from bench.record.values import dig, lst, num, obj, pair


def _label(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class PidRate:
    """One Apache process's steady-state requests/s in one trial (server.per_process)."""

    pid: str
    rps: float


@dataclass(frozen=True)
class GeneratorProcess:
    """One Locust worker of a `--workers` trial (trial.json `workers`): its steady-window requests and CPU %
    of one core, from its own reports; `lost` when it went away during the trial."""

    id: str
    host: str | None
    pid: str | None
    requests: float | None
    cpu_pct: float | None
    lost: bool

    @classmethod
    def of(cls, wid: str, w: WorkerFigures) -> GeneratorProcess:
        return cls(str(wid), None if w.host is None else str(w.host), None if w.pid is None else str(w.pid),
                   num(w.requests), num(w.cpu_pct), w.lost is True)


@dataclass(frozen=True)
class TrialRow:
    """One trial of results.json (or one planned trial of plan.order) as the reports read it: the trial's record
    (bench.record.trial.TrialRecord, read once by its from_json), its figures as floats or None."""

    record: TrialRecord
    seq: float | None
    workload: str
    variant: str
    server: str | None
    trial: str
    users: float | None
    locust_rps: float | None
    server_rps: float | None  # from the access log
    p99_ms: float | None
    failures: float | None
    server_util: float | None  # fraction of the server's CPUs its processes used
    generator_pct: float | None
    processes: float | None
    flags: tuple[str, ...]
    number: float | None = None  # the trial's number within its cell
    requests: float | None = None  # Locust's request count
    failed: bool = False  # the trial itself says it had failures (older folders)
    error_status: tuple[tuple[str, float], ...] = ()  # access-log status codes other than 2xx/3xx, sorted
    access_vs_locust: float | None = None
    labelled: bool = False  # has a bottleneck record (newer folders)
    bottleneck: str | None = None
    others_util: float | None = None  # share of the server CPUs used by processes not of the benchmark
    generator_bound: bool = False  # older folders' only label
    faults: tuple[str, ...] = ()
    has_wrk: bool = False
    per_process: tuple[PidRate, ...] = ()
    started: float | None = None
    steady: tuple[float, float] | None = None
    threads: float | None = None  # threads per process the trial's server ran with (newer folders)
    # Each serving process's own figures; None when the trial did not record them (older folders).
    per_process_threads: tuple[ProcessFigures, ...] | None = None
    # --workers: each Locust worker, and the master's CPU % (None: not a --workers trial, or older folders)
    workers: tuple[GeneratorProcess, ...] | None = None
    master_pct: float | None = None
    requests_per_cpu_second: float | None = None  # access-log requests / server CPU-s (Apache + PostgreSQL)

    @classmethod
    def of(cls, trial: TrialRecord | dict[str, Any]) -> TrialRow:
        t = TrialRecord.of(trial)
        client, server = t.client, t.server or ServerFigures()
        verdict, cpu = t.bottleneck or Verdict(), t.cpu or CpuFigures()
        errors = sorted((str(c), v) for c, raw in (server.status or {}).items()
                        if not str(c).startswith(("2", "3")) and (v := num(raw)))
        rates = tuple(PidRate(str(p.pid), rps) for p in server.per_process or () if p is not None
                      if (rps := num(p.rps)) is not None)
        return cls(
            t, num(t.seq), str(t.workload), str(t.variant), t.server_module or None, str(t.trial), num(t.users),
            num(client.rps), num(server.rps), num(client.p99_ms), num(client.failures), num(verdict.server_util),
            num(cpu.generator_pct), num(server.processes), tuple(str(f) for f in t.flags or ()),
            number=num(t.trial), requests=num(client.requests), failed=t.failures is True, error_status=tuple(errors),
            access_vs_locust=num(t.access_vs_locust), labelled=t.bottleneck is not None,
            bottleneck=verdict.bottleneck or None, others_util=num(verdict.others_util),
            generator_bound=t.generator_bound is True, faults=tuple(str(f) for f in t.faults or ()),
            has_wrk=t.wrk is not None, per_process=rates, started=num(t.started),
            steady=pair(list(t.steady)) if t.steady is not None else None, threads=num(t.threads),
            per_process_threads=(None if t.per_process_threads is None else
                                 tuple(p for p in t.per_process_threads if p is not None)),
            workers=(None if t.workers is None else
                     tuple(GeneratorProcess.of(k, w) for k, w in sorted(t.workers.items()) if w is not None)),
            master_pct=num(cpu.master_pct), requests_per_cpu_second=num(t.requests_per_cpu_second),
        )

    @property
    def raw(self) -> dict[str, Any]:
        """The trial as recorded (its record written back: the same keys and numbers)."""
        return self.record.to_json()

    @property
    def seq_text(self) -> str:
        """The seq as recorded, as text ("3"; "None" when missing): what keys a trial's series in a figure."""
        return str(self.record.seq)

    @property
    def label(self) -> str:
        """"#003 db pooled mod_wsgi trial 2": how captions and caveats name a trial."""
        head = f"#{int(self.seq):03d} " if self.seq is not None else ""
        tail = f" trial {int(self.number)}" if self.number is not None else ""
        server = f" {self.server}" if self.server else ""
        return f"{head}{self.workload} {self.variant}{server}{tail}"

    @property
    def limit(self) -> str | None:
        """What limited the trial; older folders only say whether it was generator-bound."""
        if self.bottleneck:
            return self.bottleneck
        return "generator" if self.generator_bound else None


@dataclass(frozen=True)
class CellSummary(JsonRecord):
    """A cell's `summary`: medians over its trials (bench.record.results.summarize writes it, the reports read
    it); None where not recorded. Fields in the order results.json writes them."""

    trials: int | None = None
    rps: float | None = None
    rps_ci95: tuple[float, float] | None = None
    server_rps: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    server_p50_ms: float | None = None
    server_p99_ms: float | None = None
    rps_per_process: float | None = None
    requests_per_cpu_second: float | None = None
    rss_mb_per_process: float | None = None
    pss_mb_per_process: float | None = None
    pss_mb_total: float | None = None  # all Apache processes together (parent, children, mod_wsgi daemons)
    pss_mb_serving: float | None = None  # per process that served (access-log PIDs: mod_wsgi's daemons)
    db_sessions_per_1000_requests: float | None = None
    generator_pct: float | None = None  # older folders: percent
    failures: int | None = None
    generator_bound: bool | None = None
    bottleneck: str | None = None  # the cell's label: the most common over its trials (bottleneck.cell_label)
    server_util: float | None = None  # median fraction of the server CPUs used
    others_util: float | None = None  # median fraction of the server CPUs used by processes not ours
    generator_busiest: float | None = None  # fraction of one core
    faults: int | None = None  # trials with a fault
    wrk_rps: float | None = None
    locust_vs_wrk: float | None = None
    # Where the connections were spent, medians of the trials' `connections` (bench.record.results.
    # connection_medians); left out by older folders, None where not measured (PgBouncer's: direct variants).
    server_connections_peak: float | None = optional()  # PostgreSQL backends of the cell's trials
    server_connections_mean: float | None = optional()
    backend_forks_per_s: float | None = optional()
    client_connections_peak: float | None = optional()  # PgBouncer's clients
    cl_waiting_peak: float | None = optional()
    maxwait_ms_peak: float | None = optional()
    avg_wait_time_us_mean: float | None = optional()

    @property
    def raw(self) -> dict[str, Any]:
        return self.to_json()

    def stat(self, key: str) -> float | None:
        """Any numeric field by its name in results.json (also one this class does not name)."""
        return num(self.raw.get(key))

    def recorded(self, *keys: str) -> dict[str, Any]:
        """The values as results.json holds them, unchecked: what summary.json passes on."""
        raw = self.raw
        return {k: raw.get(k) for k in keys}

    @property
    def interval(self) -> tuple[float, float] | None:
        """rps_ci95 as two numbers, else None."""
        return pair(list(self.rps_ci95)) if self.rps_ci95 is not None else None

    @property
    def latencies(self) -> tuple[float | None, float | None, float | None, float | None]:
        """p50, p90, p99 and max ms."""
        return self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms

    @property
    def serving_pss(self) -> float | None:
        """PSS per process of the processes that served, else of every Apache process."""
        return self.pss_mb_serving if self.pss_mb_serving is not None else self.pss_mb_per_process

    @property
    def busiest_generator(self) -> float | None:
        """Busiest Locust process, fraction of one core (older folders: generator_pct, in percent)."""
        if self.generator_busiest is not None:
            return self.generator_busiest
        return None if self.generator_pct is None else self.generator_pct / 100


@dataclass(frozen=True)
class Speedup(JsonRecord):
    """Variant over baseline on a workload: an entry of `speedups` / `cpu_speedups` / `wrk_speedups` (written by
    bench.record.results.speedups, read by `of`), or one a report computed from the cells' trials (origin
    "computed")."""

    workload: str | None = None
    variant: str | None = None
    baseline: str | None = None
    ratio: float | None = None
    ci95: tuple[float, float] | None = None  # null with a single trial on either side: no interval
    metric: str | None = None
    server: str | None = optional()  # --servers: both sides ran under this server
    bottlenecks: dict[str, str | None] | None = optional()  # variant -> its cell's limit, both sides
    text: str | None = optional()  # the ratio as it may honestly be stated ("at least 21.30x (pooled ...)")
    origin: str = derived(default="results.json")  # or "computed" (bootstrap of trial medians)
    effect: str | None = derived()  # a one-factor step ("X vs Y"): what it measures (attribution.Step.effect)

    @classmethod
    def of(cls, s: dict[str, Any]) -> Speedup | None:
        """A recorded entry, as reports read it: None without a ratio; an older entry's defaults filled in."""
        row = cls.from_json(s)
        ratio = num(row.ratio)
        if ratio is None:
            return None
        return replace(row, ratio=ratio, workload=str(row.workload), variant=str(row.variant),
                       baseline=row.baseline or "naive", metric=row.metric or "rps", server=row.server or None,
                       bottlenecks=row.bottlenecks or {}, ci95=pair(list(row.ci95 or ())))

    @property
    def lo(self) -> float | None:
        return None if self.ci95 is None else self.ci95[0]

    @property
    def hi(self) -> float | None:
        return None if self.ci95 is None else self.ci95[1]

    @property
    def where(self) -> str:
        """The workload, and under --servers its server: "db" or "db under mod_wsgi"."""
        return str(self.workload) if self.server is None else f"{self.workload} under {self.server}"


@dataclass(frozen=True)
class CellRecord(JsonRecord):
    """One workload x variant (x server) of results.json `results`: its trials and their summary."""

    workload: str | None = None
    variant: str | None = None
    server: str | None = optional()  # --servers only: the entry the cell ran under
    trials: tuple[TrialRecord, ...] = ()
    summary: CellSummary | None = None

    @property
    def key(self) -> CellKey:
        return CellKey(str(self.workload), str(self.variant), self.server)

    def column(self, metric: str) -> list[float | None]:
        """The per-trial values a speedup metric is a ratio of (SPEEDUP_METRICS)."""
        return [t.metric(metric) for t in self.trials]

    @property
    def limit(self) -> str | None:
        """The cell's label: the most common bottleneck over its trials."""
        return cell_label([t.limit for t in self.trials])


def cells_of(results: Sequence[CellRecord | dict[str, Any]]) -> list[CellRecord]:
    """results.json `results` as records (records are passed through)."""
    return [c if isinstance(c, CellRecord) else CellRecord.from_json(c) for c in results]


@dataclass(frozen=True)
class Ceiling:
    """generator_ceiling: Locust (and wrk) alone on /plaintext, same users and CPUs."""

    raw: dict[str, Any]
    users: float | None
    rps: float | None
    wrk_rps: float | None
    generator_busiest: float | None
    bottleneck: str | None

    @classmethod
    def of(cls, c: Any) -> Ceiling | None:
        if not isinstance(c, dict) or not c:
            return None
        bottleneck = c.get("bottleneck")
        return cls(c, num(c.get("users")), num(c.get("rps")), num(c.get("wrk_rps")), num(c.get("generator_busiest")),
                   str(bottleneck) if bottleneck else None)


@dataclass(frozen=True)
class SaturationStep(JsonRecord):
    """One step of a `--saturate` probe (results.json saturation[].steps): the users, what they reached, the limit."""

    users: int
    rps: float | None
    p99_ms: float | None
    bottleneck: str | None


@dataclass
class SaturationCell:
    """`bench run --saturate`: one cell probed at doubling users until something other than the load limited it."""

    workload: str
    variant: str
    steps: list[SaturationStep]
    stop: str | None
    knee_users: int | None
    server: str | None = None  # --servers: the entry the cell ran under

    @classmethod
    def of(cls, entry: dict[str, Any]) -> SaturationCell:
        steps = [SaturationStep(int(u), num(dig(s, "rps")), num(dig(s, "p99_ms")), dig(s, "bottleneck"))
                 for s in lst(entry.get("steps")) if (u := num(dig(s, "users"))) is not None]
        knee = num(entry.get("knee_users"))
        stop = entry.get("stop")
        return cls(str(entry.get("workload")), str(entry.get("variant")), steps,
                   stop if isinstance(stop, str) else None, None if knee is None else int(knee),
                   str(entry["server"]) if entry.get("server") else None)

    @property
    def knee(self) -> SaturationStep | None:
        return next((s for s in self.steps if s.users == self.knee_users), None)


@dataclass(frozen=True)
class Timeline:
    """A trial's timeline.json, checked: seconds and requests of equal length, per_pid series of that length."""

    t0: float | None
    warmup_s: float | None
    duration_s: float | None
    seconds: list[float]
    requests: list[float]
    per_pid: dict[str, list[float]]


@dataclass(frozen=True)
class ApacheSample:
    """One /proc sample of an Apache process (samples.jsonl, role "apache")."""

    pid: str
    t: float
    rss_kb: float
    pss_kb: float | None


@dataclass(frozen=True)
class PlanRecord:
    """The options a run was made with (results.json `plan`, written from bench.load.plan.Plan), as the report
    reads them; `raw` is shown as is."""

    raw: dict[str, Any]
    url: Any
    users: Any
    warmup_s: float | None
    duration_s: float | None
    max_p99_ms: float | None
    generator_cpus: Any
    partition_recorded: bool  # the plan names generator_cpus (folders from before partitioning do not)
    connection_close: bool
    quick: bool
    order: tuple[TrialRow, ...]  # the planned trials, in order

    @classmethod
    def of(cls, p: dict[str, Any]) -> PlanRecord:
        order = tuple(TrialRow.of(e) for e in lst(p.get("order")) if isinstance(e, dict))
        return cls(p, p.get("url"), p.get("users"), num(p.get("warmup_s")), num(p.get("duration_s")),
                   num(p.get("max_p99_ms")), p.get("generator_cpus"), "generator_cpus" in p,
                   p.get("connection_close") is True, p.get("quick") is True, order)


@dataclass(frozen=True)
class StackRecord:
    """The generated stack's settings (results.json `stack`, from bench.stack's StackSettings), as recorded."""

    raw: dict[str, Any]
    processes: Any
    keepalive: Any
    keepalive_timeout: Any
    max_keepalive_requests: Any
    max_connections_per_child: Any
    server_cpus: Any
    partition_recorded: bool  # the stack names server_cpus

    @classmethod
    def of(cls, s: Any) -> StackRecord | None:
        if not isinstance(s, dict):
            return None
        return cls(s, s.get("processes"), s.get("keepalive"), s.get("keepalive_timeout"),
                   s.get("max_keepalive_requests"), s.get("max_connections_per_child"), s.get("server_cpus"),
                   "server_cpus" in s)


@dataclass(frozen=True)
class OfferedRateRow:
    """`bench run --rate`: one cell at one offered rate (results.json `offered_rate`, bench/load/offered_rate.py);
    latencies from the intended start (the open model)."""

    workload: str
    variant: str
    server: str | None
    rate: float
    rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    dropped: float | None
    late: float | None
    server_p99_ms: float | None
    met: bool
    why: str | None
    requests_per_cpu_second: float | None = None

    @classmethod
    def of(cls, r: Any) -> OfferedRateRow | None:
        rate = num(dig(r, "rate"))
        if not isinstance(r, dict) or rate is None:
            return None
        return cls(str(r.get("workload")), str(r.get("variant")), str(r["server"]) if r.get("server") else None,
                   rate, num(r.get("rps")), num(r.get("p50_ms")), num(r.get("p90_ms")), num(r.get("p99_ms")),
                   num(r.get("p999_ms")), num(r.get("dropped")), num(r.get("late")), num(r.get("server_p99_ms")),
                   r.get("met") is True, str(r["why"]) if r.get("why") else None,
                   num(r.get("requests_per_cpu_second")))

    @classmethod
    def rows(cls, data: Any) -> list[OfferedRateRow]:
        """Every row of a results dict's `offered_rate` (empty for a closed-loop run or an older folder)."""
        return [row for r in lst(dig(data, "offered_rate")) if (row := cls.of(r)) is not None]

    @classmethod
    def probes(cls, data: Any) -> list[OfferedRateRow]:
        """The open probes of a `--saturate --slo` search (results.json `slo.cells[].probes`), one row each."""
        rows = []
        for cell in lst(dig(data, "slo", "cells")):
            for p in lst(dig(cell, "probes")):
                row = cls.of({**obj(p), "workload": dig(cell, "workload"), "variant": dig(cell, "variant"),
                              "server": dig(cell, "server"), "server_p99_ms": None})
                if row is not None:
                    rows.append(row)
        return rows
