"""A trial as a typed record (trial.json, and each entry of a cell's `trials` in results.json), made of parts,
one class each; the plan step it measured (`PlanStep`) and the cell it belongs to (`CellKey`).

Each class writes and reads its own JSON (bench/record/json_record.py): the keys and the numbers are those of
docs/results-format.md, and `from_json` takes every older folder (a missing key is None, never 0).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from bench.record.bottleneck import Verdict
from bench.record.json_record import JsonRecord, key, optional


class LatencyModel(StrEnum):
    """The load model of a trial's latencies (trial.json `latency_model`)."""

    CLOSED = "closed"  # each user waits for its answer: latency from the send
    OPEN = "open"  # --rate: arrivals on a schedule, latency from the intended start


class CellKey(NamedTuple):
    """What names a cell: (workload, variant, server), server None in a run without --servers."""

    workload: str
    variant: str
    server: str | None = None


@dataclass(frozen=True)
class PlanStep(JsonRecord):
    """One planned trial (results.json plan.order): a cell, its round, and what the step itself sets."""

    seq: int | None = None
    trial: int | None = None
    workload: str | None = None
    variant: str | None = None
    server: str | None = optional()  # --servers: the entry it runs under
    rate: float | None = optional()  # --rate: the offered rate (open model)
    users: int | None = optional()  # a sweep's point sets its own users

    @classmethod
    def of(cls, step: PlanStep | dict[str, Any]) -> PlanStep:
        return step if isinstance(step, PlanStep) else cls.from_json(step)

    @property
    def cell(self) -> CellKey:
        return CellKey(str(self.workload), str(self.variant), self.server)

    @property
    def name(self) -> str:
        """workload/variant, and under --servers the server: how progress lines name a cell."""
        return f"{self.workload}/{self.variant}" + (f" on {self.server}" if self.server else "")

    @property
    def dir(self) -> str:
        """trials/NNN-workload-variant[-server][-rRATE]: the folder of its trial (docs/results-format.md)."""
        server = f"-{self.server}" if self.server else ""
        rate = f"-r{self.rate:g}" if self.rate else ""
        return f"trials/{self.seq:03d}-{self.workload}-{self.variant}{server}{rate}"

    def at_rate(self, rate: float) -> PlanStep:
        return replace(self, rate=rate)


@dataclass(frozen=True)
class ClientFigures(JsonRecord):
    """What Locust measured in the steady window (trial.json `locust`)."""

    requests: int | None = None
    failures: int | None = None
    rps: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None


@dataclass(frozen=True)
class PidFigures(JsonRecord):
    """One Apache process in the access log's steady window (server.per_process)."""

    pid: int | None = None
    requests: int | None = None
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


@dataclass(frozen=True)
class ServerFigures(JsonRecord):
    """The access log's steady window (trial.json `server`, bench.load.access_log.window_summary)."""

    requests: int | None = None
    rps: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    processes: int | None = None
    per_process: tuple[PidFigures, ...] | None = None
    status: dict[str, int] | None = None
    keepalive_max: int | None = None


@dataclass(frozen=True)
class MemoryFigures(JsonRecord):
    """Apache's memory in the steady window, MB (trial.json `memory`, bench.load.sampler.memory_summary)."""

    rss_mb_per_process: float | None = None
    pss_mb_per_process: float | None = None
    pss_mb_total: float | None = None  # all Apache processes together (a --url run writes none: null here)
    pss_mb_serving: float | None = optional()  # the processes that served (mod_wsgi: its daemons)


@dataclass(frozen=True)
class CpuFigures(JsonRecord):
    """CPU seconds of each side in the steady window (trial.json `cpu`); --workers adds the master's."""

    apache_s: float | None = None
    postgres_s: float | None = None
    server_s: float | None = None
    generator_s: float | None = None
    generator_pct: float | None = None
    master_s: float | None = optional()
    master_pct: float | None = optional()
    pgbouncer_s: float | None = optional()  # the stack's PgBouncer, counted in server_s too


@dataclass(frozen=True)
class OpenFigures(JsonRecord):
    """--rate: the open model's figures, latency from the intended start (trial.json `open`, from open.json)."""

    model: str | None = None
    arrival: str | None = None
    rate: float | None = None
    connections: int | None = None
    offered: int | None = None
    offered_rps: float | None = None
    started: float | None = None
    requests: int | None = None
    failures: int | None = None
    dropped: int | None = None
    late: int | None = None
    unfinished: int | None = None
    rps: float | None = None
    late_ms: float | None = None
    backlog: Any = None
    latency_from: str | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    send_delay_p99_ms: float | None = None
    schedule_lag_p99_ms: float | None = None
    generator_behind: bool | None = None
    generator_reason: str | None = None
    timeline: Any = None


@dataclass(frozen=True)
class ProcessFigures(JsonRecord):
    """One serving process's figures (trial.json `per_process_threads`, bench.load.per_process): its requests/s,
    requests in service at once (mean, peak), CPU % (100 = one core), requests per CPU second of its own."""

    pid: int | None = None
    requests: int | None = None
    rps: float | None = None
    busy_threads: float | None = None
    busy_peak: float | None = None
    cpu_pct: float | None = None
    requests_per_cpu_s: float | None = None


@dataclass(frozen=True)
class WorkerFigures(JsonRecord):
    """--workers: one Locust worker's own report over the steady window (trial.json `workers`); `lost` when it
    went away during the trial."""

    host: str | None = optional()
    pid: int | None = optional()
    cpu_s: float | None = None
    seconds: float | None = optional()
    cpu_pct: float | None = None
    requests: int | None = optional()
    lost: bool | None = optional()


@dataclass(frozen=True)
class AcceptQueue(JsonRecord):
    """The listening socket's accept queue through the steady window (trial.json `accept_queue`)."""

    samples: int | None = None
    median: float | None = None
    mean: float | None = None
    max: float | None = None
    nonzero_share: float | None = None


@dataclass(frozen=True)
class QueueTime(JsonRecord):
    """Time outside a child: client latency minus %D (trial.json `queue_time`)."""

    source: str | None = key("from")
    p50_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True)
class ConnectionFigures(JsonRecord):
    """Where the PostgreSQL connections were spent in the steady window (trial.json `connections`,
    bench.load.pooler_stats.summary): PostgreSQL's view for every trial on the embedded stack, PgBouncer's
    (clients, their wait) for a trial through the pooler only; None = not measured, never 0."""

    samples: int | None = None
    server_connections_peak: int | None = None  # the trial's backends of the handlers' role (pg_stat_activity)
    server_connections_mean: float | None = None
    server_active_peak: int | None = None  # of those, running a statement
    backend_forks_per_s: float | None = None  # pg_stat_database.sessions opened per second
    client_connections_peak: int | None = None  # PgBouncer's clients (cl_active + cl_waiting)
    client_connections_mean: float | None = None
    cl_waiting_peak: int | None = None  # clients waiting for a server connection
    cl_waiting_mean: float | None = None
    maxwait_ms_peak: float | None = None  # the longest wait of a waiting client (SHOW POOLS)
    avg_wait_time_us_mean: float | None = None  # SHOW STATS avg_wait_time (per second), mean over the window
    wait_per_xact_us: float | None = None  # total_wait_time / total_xact_count over the window
    pool_size: int | None = optional()  # PgBouncer's default_pool_size, through the pooler
    pooler_mode: str | None = optional()  # PgBouncer's pool_mode, through the pooler


@dataclass(frozen=True)
class WrkFigures(JsonRecord):
    """--cross-check: wrk on the same endpoint right after the trial (trial.json `wrk`)."""

    rps: float | None = None
    requests: int | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int | None = None
    non_2xx: int | None = None
    duration_s: float | None = None
    connections: int | None = None


@dataclass(frozen=True)
class TrialRecord(JsonRecord):
    """One trial (trial.json): the step it measured, then each part as its collector returned it.

    Fields are in the order trial.json writes them; the optional ones appear only in the runs that have them
    (--rate, --servers, --workers, --cross-check, the embedded stack)."""

    seq: int | None = None
    trial: int | None = None
    workload: str | None = None
    variant: str | None = None
    rate: float | None = optional()
    server_module: str | None = optional()  # --servers: the entry that served it ("server" is the access log's)
    users: int | None = None
    dir: str | None = None
    started: float | None = None
    steady: tuple[float, float] | None = None
    locust: ClientFigures | None = None
    pids_seen_by_client: int | None = None
    workers: dict[str, WorkerFigures] | None = optional()
    server: ServerFigures | None = None
    slots: int | None = None  # Apache processes of the fixed pool: rps_per_process = server rps / slots
    rps_per_process: float | None = None
    requests_per_cpu_second: float | None = None
    memory: MemoryFigures | None = None
    db_sessions: int | None = None
    threads: int | None = optional(with_="server")
    per_process_threads: tuple[ProcessFigures, ...] | None = optional(with_="server")
    db_sessions_per_1000_requests: float | None = None
    access_vs_locust: float | None = None
    cpu: CpuFigures | None = None
    bottleneck: Verdict | None = None
    generator_bound: bool | None = None  # kept for readers of older folders: bottleneck is generator or shared
    failures: bool | None = None
    latency_model: str | None = None  # "open" or "closed": the load model of every latency above
    open: OpenFigures | None = optional(with_="rate")
    accept_queue: AcceptQueue | None = optional(with_="server")
    queue_time: QueueTime | None = optional(with_="server")
    connections: ConnectionFigures | None = optional(with_="server")  # the embedded PostgreSQL's (null: --dsn)
    faults: tuple[str, ...] | None = None
    flags: tuple[str, ...] | None = None
    wrk: WrkFigures | None = optional()
    locust_vs_wrk: float | None = optional(with_="wrk")

    @classmethod
    def of(cls, trial: TrialRecord | dict[str, Any]) -> TrialRecord:
        return trial if isinstance(trial, TrialRecord) else cls.from_json(trial)

    @property
    def cell(self) -> CellKey:
        """The cell it belongs to (its "server" is its access-log summary; its module is server_module)."""
        return CellKey(str(self.workload), str(self.variant), self.server_module)

    @property
    def client(self) -> ClientFigures:
        return self.locust or ClientFigures()

    @property
    def limit(self) -> str | None:
        """What limited it (the bottleneck's label), None when unlabelled."""
        return None if self.bottleneck is None else self.bottleneck.bottleneck

    def metric(self, name: str) -> float | None:
        """The per-trial value a speedup metric is a ratio of (results.SPEEDUP_METRICS)."""
        if name == "rps":
            return self.client.rps
        if name == "wrk_rps":
            return None if self.wrk is None else self.wrk.rps
        if name == "requests_per_cpu_second":
            return self.requests_per_cpu_second
        raise KeyError(name)
