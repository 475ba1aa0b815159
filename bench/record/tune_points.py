"""What a sweep measures, as tune.json holds it: `PointTrial` (one trial of a point), `Point` (one value of the
knob in one keep-alive mode: medians over its trials) and `Missing` (a planned trial not measured).

The figures a knob records are declared once, in `Figures`: a trial holds its own, a point the median of each
over its trials (`summarize`). Each knob writes only its figures (the others are absent, not None):
max-connections-per-child the recycling facts of bench.tune.recycling.analyze_point, processes the pool's
figures, threads the busy threads and CPU per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from bench.record.json_record import JsonRecord


class KeepAlive(StrEnum):
    """A point's keep-alive mode (tune.json "keepalive"), in reading order."""

    ON = "on"
    OFF = "off"

    @classmethod
    def of(cls, on: bool) -> KeepAlive:
        return cls.ON if on else cls.OFF


def mode_label(mode: str) -> str:
    return f"keep-alive {mode}"


@dataclass(frozen=True)
class Figures(JsonRecord):
    """The numeric figures of a trial; of a point, their medians over its trials (failures summed)."""

    users: float | None = None
    processes: float | None = None                  # the threads knobs: the point's shape
    threads: float | None = None
    rps: float | None = None                        # steady-state requests/s (Locust); --slo: the capacity
    server_rps: float | None = None                 # the same from the access log
    p99_ms: float | None = None
    server_p99_ms: float | None = None
    p999_ms: float | None = None
    failures: float | None = None
    generator_bound: bool | None = None
    # max-connections-per-child (bench.tune.recycling.analyze_point)
    service_ms_mean: float | None = None
    requests_per_connection: float | None = None
    connections: float | None = None
    children_seen: float | None = None
    children_spawned_per_s: float | None = None
    requests_per_child: float | None = None
    warmup_ms: float | None = None                  # %D excess of new children (recycling.warmup_excess_ms)
    warmup_children: float | None = None            # how many children it is the median of (absent: older)
    warmup_cold_ms: float | None = None             # the cold-flagged requests only (what warmup_ms was before)
    startup_ms: float | None = None
    rss_mb_end_of_life: float | None = None
    pss_mb_end_of_life: float | None = None
    growth_kb_per_request: float | None = None
    fresh_rss_mb: float | None = None
    slot_rps: float | None = None
    full_slot_rps: float | None = None
    # processes and threads
    server_util: float | None = None
    generator_busiest: float | None = None
    requests_per_cpu_second: float | None = None
    pss_mb: float | None = None                     # PSS per Apache process
    rss_mb: float | None = None
    db_sessions_per_1000_requests: float | None = None
    busy_threads: float | None = None
    cpu_pct_per_process: float | None = None
    # processes --slo (bench.tune.processes.slo_point)
    capacity_per_process: float | None = None
    closed_rps: float | None = None
    closed_p99_ms: float | None = None
    probes: float | None = None
    # every knob, from trial.json `connections` (absent: an older record, or --dsn where nothing was sampled)
    pg_connections_peak: float | None = None        # PostgreSQL server connections of the handlers (peak)
    pg_connections_mean: float | None = None
    pooler_cl_waiting_peak: float | None = None     # through PgBouncer: clients waiting for a server connection
    pooler_maxwait_ms_peak: float | None = None     # through PgBouncer: the longest wait


@dataclass(frozen=True)
class PointTrial(Figures):
    """One trial of a point (or of the confirmation, which adds its `value`)."""

    trial: int | None = None
    dir: str | None = None
    value: int | None = None                        # confirmation trials: the value measured
    bottleneck: Any = None                          # the trial's limit: a label, or (recycling) the whole verdict
    slo_stopped: Any = None
    faults: Any = None
    flags: tuple[str, ...] = ()
    window_after_start: tuple[float, float] | None = None  # the steady window, seconds after Apache started

    @property
    def limit(self) -> str | None:
        """What limited the trial (server, generator, ...): the label, also from a whole verdict."""
        b = self.bottleneck
        label = b.get("bottleneck") if isinstance(b, dict) else b
        return label if isinstance(label, str) and label else None

    @property
    def window(self) -> tuple[float, float] | None:
        return self.window_after_start


@dataclass(frozen=True)
class Point(Figures):
    """One measured value of the knob in one keep-alive mode: medians over its trials, and the trials."""

    keepalive: KeepAlive | None = None
    value: int | None = None
    trials: tuple[PointTrial, ...] = ()
    rps_ci95: tuple[float, float] | None = None
    flags: tuple[str, ...] = ()

    @classmethod
    def of(cls, keepalive: str, value: int, trials: Sequence[PointTrial]) -> Self:
        """The point of `trials`, its figures summarized (what the writer records after every trial)."""
        rows = [t.to_json() for t in trials]
        return cls.from_json({"keepalive": keepalive, "value": value, "trials": rows, **summarize(rows)})

    @property
    def mode(self) -> str:
        return str(self.keepalive)

    @property
    def n(self) -> int:
        return self.value or 0

    @property
    def ci(self) -> tuple[float, float] | None:
        """The 95% interval of requests/s; None from a single trial, where bench writes [x, x]."""
        return self.rps_ci95 if len(self.trials) >= 2 else None

    @property
    def label(self) -> str:
        return f"N = {self.n}, {mode_label(self.mode)}"

    @property
    def pss_mb_total(self) -> float | None:
        """Processes x PSS per process (the processes knob: the point's value is the count)."""
        return None if self.pss_mb is None else self.n * self.pss_mb

    @property
    def bottlenecks(self) -> list[str]:
        """The limit of each trial (server, generator, ...), each once; "-" where a trial named none."""
        return sorted({t.limit or "-" for t in self.trials})

    @property
    def first_users(self) -> int | None:
        """The users of its first trial (the processes knob loads each count at its own users)."""
        users = self.trials[0].users if self.trials else None
        return None if users is None else int(users)

    @property
    def window_s(self) -> float | None:
        """Length of the steady window (median over trials), from window_after_start."""
        from bench.record import stats

        return stats.median([w[1] - w[0] for t in self.trials if (w := t.window)])


@dataclass(frozen=True)
class Missing(JsonRecord):
    """A planned trial not measured (tune.json missing[])."""

    keepalive: KeepAlive | None = None
    value: int | None = None
    trial: int | None = None

    @property
    def mode(self) -> str:
        return str(self.keepalive)

    def same(self, mode: str, value: int, trial: int | None = None) -> bool:
        return (self.keepalive, self.value) == (mode, value) and (trial is None or self.trial == trial)


# --- what a sweep reads of a trial ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepFigures(JsonRecord):
    """What a sweep reads of trial.json "locust" (the client's view) or "server" (the access log's)."""

    rps: float | None = None
    p99_ms: float | None = None
    failures: float | None = None


@dataclass(frozen=True)
class TrialMemory(JsonRecord):
    rss_mb_per_process: float | None = None
    pss_mb_per_process: float | None = None


@dataclass(frozen=True)
class TrialConnections(JsonRecord):
    """What a sweep reads of trial.json `connections` (bench.record.trial.ConnectionFigures)."""

    server_connections_peak: float | None = None
    server_connections_mean: float | None = None
    cl_waiting_peak: float | None = None
    maxwait_ms_peak: float | None = None

    def point_figures(self) -> dict[str, float]:
        """The point-trial's connection figures: the ones measured (PgBouncer's only through it)."""
        figures = {"pg_connections_peak": self.server_connections_peak,
                   "pg_connections_mean": self.server_connections_mean,
                   "pooler_cl_waiting_peak": self.cl_waiting_peak, "pooler_maxwait_ms_peak": self.maxwait_ms_peak}
        return {k: v for k, v in figures.items() if v is not None}


@dataclass(frozen=True)
class ProcessThreads(JsonRecord):
    """One serving process of a threaded trial (trial.json per_process_threads[])."""

    busy_threads: float | None = None
    cpu_pct: float | None = None


@dataclass(frozen=True)
class SweepTrial(JsonRecord):
    """A trial as a sweep reads it: the parts of bench.load.trial.Trial's trial.json that become a PointTrial.
    bench.tune.sweep.Sweep reads it here, once (`from_json` of the trial's dict)."""

    dir: str | None = None
    steady: tuple[float, float] | None = None  # the steady window, epoch seconds
    locust: SweepFigures | None = None
    server: SweepFigures | None = None
    generator_bound: bool | None = None
    bottleneck: Any = None                    # the verdict: {"bottleneck": label, "server_util": ...}
    faults: Any = None
    flags: tuple[str, ...] = ()
    requests_per_cpu_second: float | None = None
    memory: TrialMemory | None = None
    db_sessions_per_1000_requests: float | None = None
    per_process_threads: tuple[ProcessThreads, ...] = ()
    connections: TrialConnections | None = None

    @property
    def client(self) -> SweepFigures:
        return self.locust or SweepFigures.from_json({})

    @property
    def limit(self) -> str | None:
        b = self.bottleneck
        return b.get("bottleneck") if isinstance(b, dict) else None

    def verdict(self, key: str) -> Any:
        """One figure of the bottleneck verdict (server_util, generator_busiest)."""
        return self.bottleneck.get(key) if isinstance(self.bottleneck, dict) else None

    def point_trial(self, trial_no: int, **figures: Any) -> PointTrial:
        """The figures every knob records of a trial, then the knob's own (`figures`, in its order)."""
        server = self.server or SweepFigures.from_json({})
        common: dict[str, Any] = {"trial": trial_no, "dir": self.dir, "rps": self.client.rps,
                                  "server_rps": server.rps, "p99_ms": self.client.p99_ms}
        measured = self.connections.point_figures() if self.connections else {}
        return PointTrial.new(**common, **figures, **measured)


# --- a point's figures -----------------------------------------------------------------------------------------
_SUMMED = ("failures",)
_ANY = ("generator_bound",)
_NOT_AGGREGATED = ("trial", "dir", "flags", "window_after_start", "slo_stopped")


def summarize(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A point's figures from its trials' JSON: medians over its trials of every numeric key of the first
    (rps with its 95% interval), failures summed, generator_bound if any was."""
    from bench.record import stats  # scipy: loaded by the writer, not by every reader of the knob names

    out: dict[str, Any] = {}
    for key, value in trials[0].items():
        if key in _NOT_AGGREGATED:
            continue
        values = [t.get(key) for t in trials]
        if key in _SUMMED:
            out[key] = sum(v or 0 for v in values)
        elif key in _ANY:
            out[key] = any(values)
        elif isinstance(value, int | float) or value is None:
            out[key] = stats.median(values, 4)
    ci = stats.median_ci([t["rps"] for t in trials]) if len(trials) > 1 else None
    out["rps_ci95"] = None if ci is None else list(ci)
    out["flags"] = sorted({f for t in trials for f in t["flags"]})
    return out
