"""The plan of a `bench run`: the matrix of workloads x variants, trial settings and the interleaved order."""

import math
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from bench.errors import UserError
from bench.load.saturation import DEFAULT_MAX_P99_MS
from bench.record.trial import PlanStep
from bench.vocabulary import DEFAULT_VARIANTS, DEFAULT_WORKLOADS

# Sane upper bounds: far above any useful run, low enough that a typo (1e9 s, a million users) is refused
# before a stack starts instead of running for years or forking without end.
MAX_DURATION_S = 24 * 3600.0
MAX_USERS = 10_000
MAX_TRIALS = 1000
MAX_LOCUST_PROCESSES = 256
# The workload of a run of the user's own application (--app): its one cell is app/<the app's name>.
APP_WORKLOAD = "app"


def show(value: float) -> str:
    """A number as the user probably typed it: 25, 2.5, nan, inf, 1e9 (not 1e+09)."""
    return format(value, "g").replace("e+0", "e").replace("e+", "e")


def check_seconds(option: str, value: float, low: float = 0.0, *, allow_low: bool = False,
                  high: float = MAX_DURATION_S) -> None:
    """A finite number of seconds in (low, high], or [low, high] with allow_low."""
    if not math.isfinite(value) or value < low or (value == low and not allow_low) or value > high:
        bound = ">=" if allow_low else ">"
        raise UserError(f"{option} {show(value)} is not allowed: use a number of seconds {bound} {show(low)} "
                        f"and at most {show(high)}")


def check_int(option: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise UserError(f"{option} {value} is not allowed: use {low}..{high}")


def check_url(option: str, url: str) -> None:
    """An http(s) URL with a host and, if given, a valid port; parsed, so `http://[::1` is one line."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise UserError(f"{option} {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UserError(f"{option} {url!r} is not an http:// or https:// URL")
    if not parts.hostname:
        raise UserError(f"{option} {url!r} has no host: use e.g. http://127.0.0.1:8089")


def parse_list(option: str, text: str, allowed: tuple[str, ...]) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise UserError(f"{option} is empty: allowed {', '.join(allowed)}")
    for item in items:
        if item not in allowed:
            raise UserError(f"{option}: unknown {item!r}; allowed {', '.join(allowed)}")
    return list(dict.fromkeys(items))


@dataclass
class Plan:
    workloads: list[str] = field(default_factory=lambda: list(DEFAULT_WORKLOADS))
    variants: list[str] = field(default_factory=lambda: list(DEFAULT_VARIANTS))
    users: int = 4
    duration_s: float = 25  # the whole trial, warm-up included
    warmup_s: float = 5     # excluded from every steady-state figure
    trials: int = 3
    queries: int = 20
    locust_processes: int = 1
    url: str | None = None
    quick: bool = False
    connection_close: bool = False
    saturate: bool = False         # raise each cell's users to its knee before its trials (bench/load/saturation.py)
    max_p99_ms: float = DEFAULT_MAX_P99_MS  # the p99 bound of --saturate and of the ladder
    ladder: bool = False           # choose each cell's users by a short ladder first (bench/load/ladder.py)
    cross_check: bool = False      # wrk on each cell's endpoint after its Locust trial, and the ceiling
    restart: str = "fresh"  # Apache is stopped and started before every trial
    generator_cpus: str | None = None  # Locust's CPU list (bench/stack/cpus.py); None: not pinned
    workers: int = 0           # Locust workers started elsewhere (--workers): the suite runs only the master
    master_bind: str = "127.0.0.1"
    master_port: int = 5557
    workers_wait_s: float = 60.0  # how long the run's master waits for them, once
    workers_min: int = 1  # fewer connected workers than this before a trial stop the run
    # --servers: the Apache modules interleaved in one run (each step then names its server); None: the one
    # server of the stack settings, and steps carry no server (the format of runs before --servers)
    servers: list[str] | None = None
    # --rate: the open model (bench/load/offered_rate.py), every cell at each offered rate; None: closed loop
    rates: list[float] | None = None
    arrival: str = "constant"
    fail_on: str | None = None  # --fail-on thresholds (bench/load/thresholds.py), checked before anything starts
    slo: str | None = None      # --saturate --slo: search each cell's largest offered rate meeting it
    order: list[PlanStep] = field(default_factory=list)

    def validate(self) -> "Plan":
        """Every value checked before anything starts: finite, in a sane range, a parseable URL."""
        check_int("--users", self.users, 1, MAX_USERS)
        check_seconds("--duration", self.duration_s)
        check_seconds("--warmup", self.warmup_s, allow_low=True)
        if self.warmup_s >= self.duration_s:
            raise UserError(f"--warmup {show(self.warmup_s)} is not shorter than the run (--duration "
                            f"{show(self.duration_s)} s, warm-up included): use a shorter warm-up")
        check_int("--trials", self.trials, 1, MAX_TRIALS)
        if not 1 <= self.queries <= 500:
            raise UserError(f"--queries {self.queries} is out of range: allowed 1..500")
        if self.locust_processes != -1:
            if not 1 <= self.locust_processes <= MAX_LOCUST_PROCESSES:
                raise UserError(f"--locust-processes {self.locust_processes} is not allowed: use 1.."
                                f"{MAX_LOCUST_PROCESSES}, or -1 for one per core")
        if not math.isfinite(self.max_p99_ms) or not 0 < self.max_p99_ms <= 3_600_000:
            raise UserError(f"--max-p99 {show(self.max_p99_ms)} is not allowed: use milliseconds > 0")
        if self.url is not None:
            check_url("--url", self.url)
        if self.workers < 0 or (self.workers and self.locust_processes != 1):
            raise UserError(f"--workers {self.workers} is not allowed: use 1 or more, without --locust-processes")
        if not math.isfinite(self.workers_wait_s) or not 0 < self.workers_wait_s <= 3600:
            raise UserError(f"--workers-wait {show(self.workers_wait_s)} is out of range: allowed above 0, "
                            "up to 3600 s")
        if not 1 <= self.workers_min <= max(1, self.workers) or (self.workers_min != 1 and not self.workers):
            raise UserError(f"--workers-min {self.workers_min} is not allowed: use 1..{max(1, self.workers)}, "
                            "with --workers")
        if not 1 <= self.master_port <= 65535:
            raise UserError(f"--master-port {self.master_port} is out of range: allowed 1..65535")
        if self.servers is not None:
            if not self.servers:
                raise UserError("--servers is empty: name at least one server")
            if self.url is not None:
                raise UserError("--servers needs the embedded stack (it restarts Apache with each server): "
                                "drop --url or --servers")
        if self.rates is not None and (self.locust_processes != 1 or self.workers):
            raise UserError("--rate (the open model) runs in one Locust process: drop --locust-processes and "
                            "--workers")
        self.order = interleave(self.workloads, self.variants, self.trials, self.servers, self.rates)
        return self

    def to_dict(self) -> dict:
        """The plan as results.json records it (`plan`), its steps as plan.order entries."""
        return asdict(self) | {"order": [step.to_json() for step in self.order]}

    @property
    def steady_s(self) -> float:
        return self.duration_s - self.warmup_s

    def cells(self) -> list[PlanStep]:
        """Each planned cell once (the first trial round), in the plan's order."""
        return [step for step in self.order if step.trial == 1]


def interleave(workloads: list[str], variants: list[str], trials: int,
               servers: list[str] | None = None, rates: list[float] | None = None) -> list[PlanStep]:
    """Trial 1 of every cell, then trial 2 of every cell...: A B A B, so drift hits every variant alike.

    With servers, each workload x variant is run under every server back to back (mod_python then
    mod_wsgi for naive db, then for pooled db, ...): the server comparison of a cell is the closest in time.
    With rates (--rate), each cell runs at every rate in turn inside a round (its step names the rate).
    """
    order: list[PlanStep] = []
    each_server: list[str | None] = list(servers) if servers else [None]  # None: the one --server
    each_rate: list[float | None] = list(rates) if rates else [None]  # None: the closed loop
    for t in range(1, trials + 1):
        for w in workloads:
            for v in variants:
                for server in each_server:
                    for rate in each_rate:
                        order.append(PlanStep(len(order) + 1, t, w, v, server=server, rate=rate))
    return order

