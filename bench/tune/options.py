"""The options every `bench tune` knob shares, as given and as parsed: loss, memory budget, keep-alive."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.errors import UserError
from bench.record.tune import BudgetScope
from bench.vocabulary import DEMONSTRATIONS, VARIANTS, WORKLOADS

if TYPE_CHECKING:
    from bench.load.plan import Plan

TUNE_WORKLOADS = (*WORKLOADS, *DEMONSTRATIONS)


@dataclass
class TuneOptions:
    """`bench tune`'s options as the user gave them (strings unparsed): each knob parses what it uses."""

    values: str | None
    workload: str
    variant: str
    keepalive: str = "both"
    max_loss: str = "1"
    max_p99: float | None = None
    slo: str | None = None                # --knob processes: size on the capacity at this SLO (open model)
    memory_budget: str | None = None
    users: int = 4
    duration: float = 20.0
    warmup: float = 4.0
    trials: int = 1
    locust_processes: int = 1
    quick: bool = False
    confirm: bool = True                  # measure the recommended value against 0 (--no-confirm: skip)
    confirm_max_duration: float = 120.0   # seconds per confirmation trial at most (--confirm-max-duration)


@dataclass(frozen=True)
class SweepArgs:
    """What every knob's parsed options hold: the load of one trial and how many trials per point."""

    workload: str
    variant: str
    users: int
    duration: float
    warmup: float
    trials: int
    locust_processes: int

    @classmethod
    def common(cls, opts: TuneOptions) -> dict[str, Any]:
        """The shared fields, as given (a knob's `parse` adds its own)."""
        return {"workload": opts.workload, "variant": opts.variant, "users": opts.users, "duration": opts.duration,
                "warmup": opts.warmup, "trials": opts.trials, "locust_processes": opts.locust_processes}

    def load_plan(self) -> Plan:
        """The plan of one trial (every point's trial measures this load)."""
        from bench.load.plan import Plan

        return Plan(workloads=[self.workload], variants=[self.variant], users=self.users, duration_s=self.duration,
                    warmup_s=self.warmup, trials=1, locust_processes=self.locust_processes).validate()


MAX_CONFIRM_S = 3600.0


def parse_confirm_duration(value: float) -> float:
    if not 5 <= value <= MAX_CONFIRM_S:
        raise UserError(f"--confirm-max-duration {value:g} is not valid: seconds from 5 to {MAX_CONFIRM_S:g}")
    return float(value)


def check_workload(workload: str, variant: str, workloads: tuple[str, ...] = TUNE_WORKLOADS) -> None:
    if workload not in workloads:
        raise UserError(f"--workload {workload!r} is unknown: allowed {', '.join(workloads)}")
    if variant not in VARIANTS:
        raise UserError(f"--variant {variant!r} is unknown: allowed {', '.join(VARIANTS)}")


def parse_loss(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*%?\s*", text)
    if not m or not 0 < float(m.group(1)) < 100:
        raise UserError(f"--max-loss {text!r} is not valid: a percentage above 0 and below 100, e.g. 1 or 2.5%")
    return float(m.group(1)) / 100


_UNITS = {"": 1, "k": 2**-10, "kb": 2**-10, "kib": 2**-10, "m": 1, "mb": 1, "mib": 1, "g": 1024, "gb": 1024,
          "gib": 1024}


def parse_budget(text: str | None) -> tuple[float | None, BudgetScope]:
    """'300MB' (per child) or 'total:2GB' (all children) -> (MB, scope)."""
    if text is None:
        return None, BudgetScope.CHILD
    scope, _, amount = text.rpartition(":")
    scope = scope or BudgetScope.CHILD
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", amount)
    if scope not in tuple(BudgetScope) or not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise UserError(f"--memory-budget {text!r} is not valid: a size like 300MB or 1.5GB per child, "
                        "or total:2GB for all children")
    return float(m.group(1)) * _UNITS[m.group(2).lower()], BudgetScope(scope)


def parse_keepalive(text: str) -> list[bool]:
    modes = {"on": [True], "off": [False], "both": [True, False]}
    if text not in modes:
        raise UserError(f"--keepalive {text!r} is not valid: use on, off or both")
    return modes[text]
