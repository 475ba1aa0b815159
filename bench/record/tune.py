"""tune.json (`bench tune`, docs/results-format.md): its schema, its shapes, its writer and its loader.

Rewritten atomically after every trial, like results.json; `load_tune` is the one way in for readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from bench.record.errors import UserError
from bench.record.files import now_iso, read_record, record_path, write_json
from bench.record.schema import Upgrade
from bench.record.schema import upgrade as upgrade_schema
from bench.record.tune_conclusions import Advice, ModeConclusion, Sizing
from bench.record.tune_conclusions import Confirmation as ConfirmationRecord
from bench.record.tune_json import JsonRecord
from bench.record.tune_points import Missing
from bench.record.tune_points import Point as PointRecord
from bench.record.values import num

SCHEMA = 3
FILE = "tune.json"
KNOBS = ("max-connections-per-child", "processes", "threads", "processes,threads")


def _upgrade_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 knew one knob: its plan gains `knob`."""
    plan = data.get("plan")
    if isinstance(plan, dict):
        plan = {"knob": "max-connections-per-child", **plan}
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
    return data | {"schema": 3, "modes": modes, "confirmation": data.get("confirmation", {"status": "none"})}


UPGRADES: dict[int, Upgrade] = {1: _upgrade_1, 2: _upgrade_2}
MODES = ("on", "off")  # keep-alive modes, in reading order
MODEL_TOLERANCE = 0.10  # above this error anywhere the recommendation comes from the measured points


class PointTrial(TypedDict, total=False):
    """One trial of a point: the client figures plus bench.tune.analyze_point's recycling facts."""

    trial: int
    dir: str
    rps: float | None
    server_rps: float | None
    p99_ms: float | None
    failures: int | None
    generator_bound: bool
    flags: list[str]
    window_after_start: list[float]  # the steady window, seconds after Apache started
    service_ms_mean: float | None
    requests_per_connection: float | None
    connections: int
    children_seen: int
    children_spawned_per_s: float
    requests_per_child: float | None
    warmup_ms: float | None           # %D excess of new children (bench.tune.recycling.warmup_excess_ms)
    warmup_children: int              # how many children it is the median of (absent: an older record)
    warmup_cold_ms: float | None      # the cold-flagged requests only (what warmup_ms was before)
    startup_ms: float | None
    rss_mb_end_of_life: float | None
    pss_mb_end_of_life: float | None
    growth_kb_per_request: float | None
    fresh_rss_mb: float | None


class ConfirmResult(TypedDict, total=False):
    """One value measured by the confirmation step against N = 0 (bench.tune.confirm.result)."""

    value: int
    round: int
    trials: int
    base_trials: int
    observed: bool             # some trial at this value replaced a child (False: its loss is noise)
    bounds: int                # bounded confirmation: the larger N whose loss this one bounds
    bounds_predicted: float    # the model's loss at that N
    measured_loss: float | None
    loss_ci95: list[float] | None
    predicted_loss: float | None
    prediction_interval: list[float] | None
    within_prediction: bool | None
    meets_loss: bool
    meets_memory: bool
    rss_mb_end_of_life: float | None
    pss_mb_end_of_life: float | None


class Confirmation(TypedDict, total=False):
    """tune.json "confirmation" (schema 3): status is confirmed, smaller, larger, memory wins, over the limit,
    bounded (N's lives outlast the cap: measured_at, a smaller value whose loss bounds N's, was measured),
    not observable (nothing that fits the cap bounds N: value is None), not observed (N's trials replaced no
    child), incomplete, not run, skipped (--no-confirm) or none (a record from before the step)."""

    status: str
    mode: str
    model_value: int
    value: int
    sentence: str
    measured_loss: float | None
    loss_ci95: list[float] | None
    rss_mb_end_of_life: float | None
    pss_mb_end_of_life: float | None
    cap_s: float
    capped: bool
    life_s: float          # one child's predicted life at model_value
    observable: bool       # False: a life at model_value outlasts a capped trial
    needed_s: float        # a trial that would hold LIVES lives at model_value
    bound_value: int | None
    measured_at: int       # the value whose measurement this is (value, or bound_value when bounded)
    rounds: list[dict[str, Any]]  # values, duration_s, needed_s, capped, trials (PointTrial + value)
    results: list[ConfirmResult]


class Point(TypedDict, total=False):
    """One MaxConnectionsPerChild value in one keep-alive mode: medians over its trials (the numeric
    keys of PointTrial), and the trials themselves."""

    keepalive: str
    value: int
    rps_ci95: list[float] | None
    trials: list[PointTrial]


# --- derived figures -------------------------------------------------------------------------------
_SUMMED = ("failures",)
_ANY = ("generator_bound",)
_NOT_AGGREGATED = ("trial", "dir", "flags", "window_after_start", "slo_stopped")


def summarize_point(trials: Sequence[PointTrial]) -> dict[str, Any]:
    """A point's figures: medians over its trials (rps with its 95% interval), failures summed."""
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


@dataclass(frozen=True)
class TunePlan(JsonRecord):
    """What was swept and under which limits (tune.json "plan"); each knob writes its own keys."""

    knob: str | None = None
    values: tuple[int | tuple[int, ...], ...] = ()   # the threads knobs: [processes, threads] pairs
    workload: str | None = None
    variant: str | None = None
    keepalive: tuple[str, ...] = ()
    max_loss: float | None = None
    max_p99_ms: float | None = None
    slo: str | None = None
    latency_model: str | None = None
    memory_budget_mb: float | None = None
    memory_budget_scope: str | None = None
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
    def budget_scope(self) -> str:
        return self.memory_budget_scope or "total"


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
    points: tuple[PointRecord, ...] = ()
    missing: tuple[Missing, ...] = ()
    modes: dict[str, ModeConclusion] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()        # values the sweep did not measure, each with why
    sizing: Sizing | None = None
    confirmation: ConfirmationRecord | None = None
    advice: Advice | None = None

    @property
    def knob(self) -> str:
        """The swept knob (schema 1 knew only max-connections-per-child)."""
        return (self.plan.knob if self.plan else None) or KNOBS[0]

    def mode_points(self, mode: str) -> list[PointRecord]:
        return [p for p in self.points if p.keepalive == mode]

    def point(self, mode: str, value: int) -> PointRecord | None:
        return next((p for p in self.points if (p.keepalive, p.value) == (mode, value)), None)


# --- writing ---------------------------------------------------------------------------------------
class TuneRecord:
    """tune.json of a sweep in progress: the planned trials are `missing` until measured."""

    def __init__(self, run_dir: Path, plan: dict[str, Any], stack: dict[str, Any], environment: dict[str, Any],
                 todo: list[dict[str, Any]]):
        self.path = run_dir / FILE
        self.data: dict[str, Any] = {
            "schema": SCHEMA, "kind": "tune", "run_id": run_dir.name, "created": now_iso(), "finished": None,
            "complete": False, "plan": plan, "stack": stack, "environment": environment,
            "points": [], "missing": list(todo), "modes": {},
        }
        self.write()

    def point(self, mode: str, value: int) -> Point:
        for p in self.data["points"]:
            if (p["keepalive"], p["value"]) == (mode, value):
                return p
        p: Point = {"keepalive": mode, "value": value, "trials": []}
        self.data["points"].append(p)
        return p

    def points(self, mode: str) -> list[Point]:
        return [p for p in self.data["points"] if p["keepalive"] == mode]

    def add_trial(self, mode: str, value: int, trial: PointTrial) -> None:
        point = self.point(mode, value)
        point["trials"].append(trial)
        point.update(summarize_point(point["trials"]))
        self.data["missing"] = [m for m in self.data["missing"]
                                if (m["keepalive"], m["value"], m["trial"]) != (mode, value, trial["trial"])]
        self.write()

    def finish(self, modes: dict[str, Any], advice: dict[str, Any], complete: bool) -> None:
        self.data["modes"] = modes
        self.data["advice"] = advice
        self.data["complete"] = complete
        self.data["finished"] = now_iso()
        self.write()

    def write(self) -> None:
        write_json(self.path, self.data)


# --- reading ---------------------------------------------------------------------------------------
def tune_path(path: Path | str) -> Path:
    return record_path(path, FILE)


def knob_of(data: dict[str, Any]) -> str:
    """The swept knob of a loaded tune record."""
    return (data.get("plan") or {}).get("knob", KNOBS[0])


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
    knob = (data.get("plan") or {}).get("knob", KNOBS[0])
    if knob not in KNOBS:
        raise UserError(f"damaged {file}: plan \"knob\" is {knob!r}, expected one of {', '.join(KNOBS)}")
    for p in data.get("points", []):
        if p.get("keepalive") not in MODES or num(p.get("value")) is None:
            raise UserError(f"damaged {file}: every point needs \"keepalive\" (on/off) and a numeric \"value\"")
