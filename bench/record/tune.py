"""tune.json (`bench tune`, docs/results-format.md): its schema, its record classes, its writer and its loader.

The parts are declared once, each a frozen class that writes and reads its own JSON (bench.record.json_record):
the points (bench.record.tune_points), the conclusions (bench.record.tune_conclusions), and here the plan, the
stack and the whole record, `TuneData`. `TuneRecord` writes it atomically after every trial, like
results.json; `read_tune` (through `load_tune`, the schema gate and shape check) is the one way in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bench.record.errors import UserError
from bench.record.files import now_iso, read_record, record_path, write_json
from bench.record.json_record import JsonRecord
from bench.record.schema import Upgrade
from bench.record.schema import upgrade as upgrade_schema
from bench.record.trial import LatencyModel  # plan "latency_model": the trial's own enum
from bench.record.tune_conclusions import Advice, Confirmation, ConfirmStatus, ModeConclusion, Sizing
from bench.record.tune_points import KeepAlive, Missing, Point, PointTrial
from bench.record.values import num

SCHEMA = 3
FILE = "tune.json"
# The knob of schema 1, which knew only that one. Which knobs there are is bench.tune's (every Knob subclass) and
# which ones have a page is reports.tune's (every KnobPage subclass): tune.json names its knob, these check it.
FIRST_KNOB = "max-connections-per-child"


def _upgrade_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 knew one knob: its plan gains `knob`."""
    plan = data.get("plan")
    if isinstance(plan, dict):
        plan = {"knob": FIRST_KNOB, **plan}
    return data | {"schema": 2, "plan": plan}


def _upgrade_2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 had no confirmation step: its recommendation was never measured (status "none"), and its
    model check was in sample (each mode's out_of_sample says so)."""
    modes = data.get("modes")
    if isinstance(modes, dict):
        modes = {m: (c | {"out_of_sample": {"method": None, "max_error": None,
                                            "text": "not checked out of sample (a record from before the check)"}}
                     if isinstance(c, dict) and c.get("model") and "out_of_sample" not in c else c)
                 for m, c in modes.items()}
    return data | {"schema": 3, "modes": modes,
                   "confirmation": data.get("confirmation", {"status": ConfirmStatus.NONE.value})}


UPGRADES: dict[int, Upgrade] = {1: _upgrade_1, 2: _upgrade_2}
MODES = tuple(KeepAlive)  # keep-alive modes, in reading order
MODEL_TOLERANCE = 0.10  # above this error anywhere the recommendation comes from the measured points


class BudgetScope(StrEnum):
    """What --memory-budget bounds (tune.json plan "memory_budget_scope")."""

    CHILD = "child"   # each child's RSS
    TOTAL = "total"   # all the children together


@dataclass(frozen=True)
class TunePlan(JsonRecord):
    """What was swept and under which limits (tune.json "plan"); each knob writes its own keys."""

    knob: str | None = None
    values: tuple[int | tuple[int, ...], ...] = ()   # the threads knobs: [processes, threads] pairs
    workload: str | None = None
    variant: str | None = None
    keepalive: tuple[KeepAlive, ...] = ()
    max_loss: float | None = None
    max_p99_ms: float | None = None
    slo: str | None = None
    latency_model: LatencyModel | None = None
    memory_budget_mb: float | None = None
    memory_budget_scope: BudgetScope | None = None
    users: int | None = None
    users_rule: str | None = None
    duration_s: float | None = None
    warmup_s: float | None = None
    trials: int | None = None
    mpm: str | None = None
    generator_cpus: Any = None
    confirm: bool | None = None
    confirm_max_duration_s: float | None = None

    @property
    def budget_scope(self) -> BudgetScope:
        return self.memory_budget_scope or BudgetScope.TOTAL


@dataclass(frozen=True)
class TuneStack(JsonRecord):
    """The stack settings the sweep ran with (bench.stack.knobs.StackSettings.to_dict): what readers use."""

    server: str | None = None
    wsgi_mode: str | None = None
    processes: int | None = None
    max_keepalive_requests: int | None = None
    pool_size: int | None = None
    pg_max_connections: int | None = None
    app: Any = None
    pooler: bool | None = None               # absent: older records (before PgBouncer)
    pooler_pool_size: int | None = None      # a sweep through PgBouncer fixes it (bench.tune.connection_budget)


@dataclass(frozen=True)
class TuneData(JsonRecord):
    """A whole tune.json: the plan, the points measured, what is missing, the conclusions."""

    schema: int | None = None
    kind: str | None = None
    run_id: str | None = None
    created: str | None = None
    finished: str | None = None
    complete: bool | None = None
    plan: TunePlan | None = None
    stack: TuneStack | None = None
    environment: Any = None
    points: tuple[Point, ...] = ()
    missing: tuple[Missing, ...] = ()
    modes: dict[str, ModeConclusion] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()        # values the sweep did not measure, each with why
    sizing: Sizing | None = None
    confirmation: Confirmation | None = None
    advice: Advice | None = None

    @property
    def knob(self) -> str:
        """The swept knob (schema 1 knew only max-connections-per-child)."""
        return (self.plan.knob if self.plan else None) or FIRST_KNOB

    def mode_points(self, mode: str) -> list[Point]:
        return [p for p in self.points if p.keepalive == mode]

    def point(self, mode: str, value: int) -> Point | None:
        return next((p for p in self.points if (p.keepalive, p.value) == (mode, value)), None)


# --- writing ---------------------------------------------------------------------------------------
class TuneRecord:
    """tune.json of a sweep in progress: the planned trials are `missing` until measured. Rewritten whole
    after every change (`data` is the record so far)."""

    def __init__(self, run_dir: Path, plan: TunePlan, stack: dict[str, Any], environment: dict[str, Any],
                 todo: list[Missing]):
        self.path = run_dir / FILE
        self.data = TuneData.new(
            schema=SCHEMA, kind="tune", run_id=run_dir.name, created=now_iso(), finished=None, complete=False,
            plan=plan, stack=TuneStack.from_json(stack), environment=environment, points=(), missing=tuple(todo),
            modes={})
        self.write()

    def points(self, mode: str) -> list[Point]:
        return self.data.mode_points(mode)

    def add_trial(self, mode: str, value: int, trial: PointTrial) -> Point:
        """Record one trial of (mode, value); returns its point, summarized anew."""
        old = self.data.point(mode, value)
        point = Point.of(mode, value, [*(old.trials if old else ()), trial])
        points = [point if p is old else p for p in self.data.points] if old else [*self.data.points, point]
        self.update(points=tuple(points),
                    missing=tuple(m for m in self.data.missing if not m.same(mode, value, trial.trial)))
        return point

    def update(self, **changes: Any) -> None:
        """Set top-level parts (dropped, sizing, confirmation ...) and rewrite tune.json."""
        self.data = self.data.having(**changes)
        self.write()

    def finish(self, modes: dict[str, ModeConclusion], advice: Advice, complete: bool) -> None:
        self.update(modes=modes, advice=advice, complete=complete, finished=now_iso())

    def write(self) -> None:
        write_json(self.path, self.data.to_json())


# --- reading ---------------------------------------------------------------------------------------
def tune_path(path: Path | str) -> Path:
    return record_path(path, FILE)


def knob_of(data: dict[str, Any]) -> str:
    """The swept knob of a loaded tune record."""
    return (data.get("plan") or {}).get("knob", FIRST_KNOB)


def is_tune_folder(path: Path | str) -> bool:
    """A folder written by `bench tune`: tune.json and no results.json."""
    p = Path(path)
    return p.is_dir() and (p / FILE).is_file() and not (p / "results.json").exists()


def read_tune(path: Path | str) -> TuneData:
    """tune.json read once into its classes (the checks of `load_tune` first)."""
    return TuneData.from_json(load_tune(path))


def load_tune(path: Path | str) -> dict[str, Any]:
    """Read and check tune.json (`path`: the run folder or the file). Raises a one-line UserError when
    the file is missing, unreadable, not JSON, of an unknown schema, or not shaped like a tune record."""
    file = tune_path(path)
    data = upgrade_schema(read_record(path, FILE), "tune", SCHEMA, UPGRADES, file)
    _check_shape(data, file)
    return data


def _check_shape(data: dict[str, Any], file: Path) -> None:
    # Only what every reader relies on; extra keys are always allowed (the format grows by adding).
    if data.get("kind", "tune") != "tune":
        raise UserError(f"damaged {file}: \"kind\" is {data.get('kind')!r}, expected \"tune\"")
    for key in ("points", "missing"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise UserError(f"damaged {file}: \"{key}\" must be a list of objects")
    for key in ("plan", "stack", "environment", "modes", "advice", "confirmation"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise UserError(f"damaged {file}: \"{key}\" must be an object or null")
    knob = (data.get("plan") or {}).get("knob", FIRST_KNOB)
    if not isinstance(knob, str) or not knob:
        raise UserError(f"damaged {file}: plan \"knob\" is {knob!r}, expected a knob's name")
    for p in data.get("points", []):
        if p.get("keepalive") not in MODES or num(p.get("value")) is None:
            raise UserError(f"damaged {file}: every point needs \"keepalive\" (on/off) and a numeric \"value\"")
