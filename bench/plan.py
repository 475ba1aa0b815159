"""The plan of a `bench run`: the matrix of workloads x variants, trial settings and the interleaved order."""

from dataclasses import asdict, dataclass, field

from bench.errors import UserError
from bench.vocabulary import DEFAULT_VARIANTS, DEFAULT_WORKLOADS


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
    restart: str = "fresh"  # Apache is stopped and started before every trial
    generator_cpus: str | None = None  # Locust's CPU list (bench/cpus.py); None: not pinned
    cross_check: bool = False  # wrk on each cell's endpoint after its Locust trial
    saturate: bool = False     # raise each cell's users until the server or generator is the limit
    max_p99_ms: float = 100.0  # the p99 bound of --saturate
    workers: int = 0           # Locust workers started elsewhere (--workers): the suite runs only the master
    master_bind: str = "127.0.0.1"
    master_port: int = 5557
    workers_wait_s: float = 60.0  # how long each trial's master waits for them
    order: list[dict] = field(default_factory=list)

    def validate(self) -> "Plan":
        if self.users < 1:
            raise UserError(f"--users {self.users} is not allowed: use 1 or more")
        if self.duration_s <= 0:
            raise UserError(f"--duration {self.duration_s:g} is not allowed: use a positive number of seconds")
        if self.warmup_s < 0:
            raise UserError(f"--warmup {self.warmup_s:g} is not allowed: use 0 or more seconds")
        if self.warmup_s >= self.duration_s:
            raise UserError(f"--warmup {self.warmup_s:g} is not shorter than the run (--duration "
                            f"{self.duration_s:g} s, warm-up included): use a shorter warm-up")
        if self.trials < 1:
            raise UserError(f"--trials {self.trials} is not allowed: use 1 or more")
        if not 1 <= self.queries <= 500:
            raise UserError(f"--queries {self.queries} is out of range: allowed 1..500")
        if self.locust_processes < 1 and self.locust_processes != -1:
            raise UserError(f"--locust-processes {self.locust_processes} is not allowed: use 1 or more, "
                            "or -1 for one per core")
        if self.saturate and not (0 < self.max_p99_ms < 1e6):
            raise UserError(f"--max-p99 {self.max_p99_ms:g} is not allowed: use a number of milliseconds above 0")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise UserError(f"--url {self.url!r} is not an http:// or https:// URL")
        if self.workers < 0 or (self.workers and self.locust_processes != 1):
            raise UserError(f"--workers {self.workers} is not allowed: use 1 or more, without --locust-processes")
        if not 0 < self.workers_wait_s <= 3600:
            raise UserError(f"--workers-wait {self.workers_wait_s:g} is out of range: allowed above 0, up to 3600 s")
        if not 1 <= self.master_port <= 65535:
            raise UserError(f"--master-port {self.master_port} is out of range: allowed 1..65535")
        self.order = interleave(self.workloads, self.variants, self.trials)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def steady_s(self) -> float:
        return self.duration_s - self.warmup_s


def interleave(workloads: list[str], variants: list[str], trials: int) -> list[dict]:
    """Trial 1 of every cell, then trial 2 of every cell...: A B A B, so drift hits every variant alike."""
    order = []
    for t in range(1, trials + 1):
        for w in workloads:
            for v in variants:
                order.append({"seq": len(order) + 1, "trial": t, "workload": w, "variant": v})
    return order

