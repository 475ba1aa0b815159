"""The user ladder of a cell (results.json `ladder`, docs/results-format.md): the short probes `bench run` ran
before the cell's trials to choose their users, and why it stopped (bench/load/ladder.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bench.record.json_record import JsonRecord


class Stop(StrEnum):
    """Why a ladder stopped; its value is the label in results.json `ladder[].stop`."""

    SERVER = "server"          # the server CPUs were busy enough: more users only queue
    GENERATOR = "generator"    # a Locust process (or the generator CPUs) was full: more users cannot send more
    P99 = "p99"                # p99 passed --max-p99: the users before it are the load
    PLATEAU = "plateau"        # doubling the users raised requests/s by less than the ladder's MIN_GAIN
    MAX_USERS = "max users"    # the top of the ladder


@dataclass(frozen=True)
class Probe(JsonRecord):
    """One rung: a short closed-loop run at `users` (its raw files in the folder `dir` of the run folder)."""

    users: int | None = None
    rps: float | None = None
    p99_ms: float | None = None
    server_util: float | None = None        # server CPU-s / (window x server CPUs)
    server_set_util: float | None = None    # the server CPUs' busy time by every process (others included)
    generator_busiest: float | None = None  # busiest Locust process, fraction of one core
    generator_util: float | None = None     # generator CPU-s / (window x generator CPUs)
    bottleneck: str | None = None           # the trial's verdict (bench/record/bottleneck.py)
    dir: str | None = None


@dataclass(frozen=True)
class LadderCell(JsonRecord):
    """A cell's ladder: its probes, why it stopped, the users its trials ran with."""

    workload: str | None = None
    variant: str | None = None
    server: str | None = None
    probes: tuple[Probe, ...] = ()
    stop: str | None = None
    reason: str | None = None
    users: int | None = None

    @classmethod
    def all_of(cls, data: dict[str, Any]) -> list[LadderCell]:
        """results.json `ladder` as records ([] for runs without one)."""
        entries = data.get("ladder")
        return [cls.from_json(e) for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    @property
    def name(self) -> str:
        return f"{self.workload}/{self.variant}" + (f" ({self.server})" if self.server else "")
