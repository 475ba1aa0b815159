"""What a sweep concludes, as tune.json holds it: the recycling model's parameters (`ModelParameters`, one unit:
seconds for the cost of a new child), its check and recommendation per keep-alive mode (`ModeConclusion`),
the confirmation step (`Confirmation`, its rounds and `ConfirmResult`s), the processes and threads knobs'
`Sizing`, and the `Advice` every knob prints. The state strings are enums whose values are tune.json's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bench.record.json_record import JsonRecord, key
from bench.record.tune_points import PointTrial


class ConfirmStatus(StrEnum):
    """tune.json confirmation "status" (schema 3)."""

    CONFIRMED = "confirmed"             # the model's value met both limits
    SMALLER = "smaller"                 # a smaller measured value did, and is recommended
    LARGER = "larger"                   # a larger one did (one more round)
    MEMORY_WINS = "memory wins"         # no value met both: the one memory allows, with its measured loss
    OVER_THE_LIMIT = "over the limit"   # no measured value met the loss limit
    BOUNDED = "bounded"                 # N's lives outlast the cap: a smaller value's loss bounds N's
    NOT_OBSERVABLE = "not observable"   # nothing that fits the cap bounds N
    NOT_OBSERVED = "not observed"       # N's trials replaced no child
    INCOMPLETE = "incomplete"           # under way, or interrupted
    NOT_RUN = "not run"                 # the sweep ended before the step
    SKIPPED = "skipped"                 # --no-confirm
    NONE = "none"                       # a record from before the step

    @property
    def ran(self) -> bool:
        return self not in (ConfirmStatus.NONE, ConfirmStatus.SKIPPED, ConfirmStatus.NOT_RUN)


class Source(StrEnum):
    """Where a recycling recommendation came from."""

    MODEL = "model"
    MEASURED = "measured points"  # the model was off out of sample: the smallest measured value that met the limits


class Binding(StrEnum):
    """The constraint that bound a processes or threads recommendation."""

    KNEE = "knee"
    P99 = "p99"
    MEMORY = "memory"
    CONNECTIONS = "connections"


# --- the recycling model -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CurvePoint(JsonRecord):
    """The model at one N of its grid."""

    value: int | None = None
    rps: float | None = None
    loss: float | None = None
    rss_end_mb: float | None = None
    p99_ms: float | None = None        # absent: a record from before the p99 was predicted


@dataclass(frozen=True)
class ModelParameters(JsonRecord):
    """The recycling model's parameters as recorded (bench.tune.model.Model is built from them): rates in
    requests/s, the cost of a new child in seconds (tune.json: child_cost_ms)."""

    r0: float | None = None
    per_process_rps: float | None = None
    child_max_rps: float | None = None
    slot_rps: float | None = None
    capacity_rps: float | None = None
    child_cost_s: float | None = key("child_cost_ms", scale=1000, digits=3)
    requests_per_connection: float | None = None
    fresh_rss_mb: float | None = None
    growth_kb_per_request: float | None = None
    base_p99_ms: float | None = None    # p99 without recycling (absent: a record from before the p99 was predicted)
    cold_ms: float | None = None        # a new child's first request, measured (its warm-up included)
    curve: tuple[CurvePoint, ...] = ()

    @property
    def child_cost_ms(self) -> float | None:
        return None if self.child_cost_s is None else round(self.child_cost_s * 1000, 3)


@dataclass(frozen=True)
class Check(JsonRecord):
    """The model's prediction for one measured point (modes[mode].check[])."""

    value: int | None = None
    measured_rps: float | None = None
    predicted_rps: float | None = None
    signed_error: float | None = None
    error: float | None = None
    recycled: bool | None = None
    fitted: bool | None = None
    held_out_predicted_rps: float | None = None  # a model fitted without this point (leave-one-out; schema 3)
    held_out_error: float | None = None
    measured_p99_ms: float | None = None
    predicted_p99_ms: float | None = None

    @property
    def n(self) -> int:
        return self.value or 0

    @property
    def signed(self) -> float | None:
        """(predicted - measured) / measured. The size is `error` (from the unrounded prediction; predicted_rps
        is rounded to 0.1, too coarse at a few req/s), the sign from the two rates."""
        meas, pred, err = self.measured_rps, self.predicted_rps, self.error
        if err is None:
            return None if not meas or pred is None else (pred - meas) / meas
        return -err if pred is not None and meas is not None and pred < meas else err


@dataclass(frozen=True)
class OutOfSample(JsonRecord):
    """How the model was checked out of sample: method (leave-one-out, or None: not checked), its error."""

    method: str | None = None
    max_error: float | None = None
    text: str | None = None


@dataclass(frozen=True)
class Recommendation(JsonRecord):
    """One keep-alive mode's recommended N: predicted by the model or measured."""

    value: int | None = None
    predicted_loss: float | None = None
    measured_loss: float | None = None
    rss_end_mb: float | None = None
    within: bool | None = None  # False: no value met both the loss limit and the memory budget
    source: Source | None = None
    memory_unmeasured: str | None = None  # a budget was given but this was not measured: throughput alone chose

    @property
    def loss(self) -> tuple[float | None, str]:
        """The throughput loss and whether it was predicted or measured."""
        if self.predicted_loss is not None:
            return self.predicted_loss, "predicted"
        if self.measured_loss is not None:
            return self.measured_loss, "measured"
        return None, ""


@dataclass(frozen=True)
class ModeConclusion(JsonRecord):
    """The tuner's conclusion for one keep-alive mode (modes[mode]); every part may be absent."""

    model: ModelParameters | None = None
    fitted_to: tuple[int, ...] = ()
    check: tuple[Check, ...] = ()
    max_error: float | None = None        # the largest in-sample residual (see out_of_sample)
    model_ok: bool | None = None
    out_of_sample: OutOfSample | None = None
    recommendation: Recommendation | None = None
    reason: str | None = None

    @property
    def recommended(self) -> Recommendation | None:
        """The recommendation when it names a value."""
        rec = self.recommendation
        return rec if rec is not None and rec.value is not None else None

    @property
    def checks(self) -> list[Check]:
        """The checks that name their point."""
        return [c for c in self.check if c.value is not None]

    @property
    def oos_error(self) -> float | None:
        """The model's largest error out of sample (None: not checked out of sample)."""
        return self.out_of_sample.max_error if self.out_of_sample else None

    @property
    def oos_text(self) -> str | None:
        return (self.out_of_sample.text if self.out_of_sample else None) or None


# --- the confirmation step ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfirmResult(JsonRecord):
    """One value the confirmation measured against N = 0 (bench.tune.confirm.result)."""

    value: int | None = None
    round: int | None = None
    trials: int | None = None
    base_trials: int | None = None
    observed: bool | None = None            # some trial at this value replaced a child (False: its loss is noise)
    measured_loss: float | None = None
    loss_ci95: tuple[float, float] | None = None
    predicted_loss: float | None = None
    prediction_interval: tuple[float, float] | None = None
    within_prediction: bool | None = None
    meets_loss: bool | None = None
    meets_memory: bool | None = None
    rss_mb_end_of_life: float | None = None
    pss_mb_end_of_life: float | None = None
    bounds: int | None = None               # bounded: the larger N whose loss this one bounds
    bounds_predicted: float | None = None   # the model's loss at that N

    @property
    def n(self) -> int:
        return self.value or 0


@dataclass(frozen=True)
class ConfirmRound(JsonRecord):
    """One round of the confirmation: the values measured (0 first), how long each trial, its trials."""

    round: int | None = None
    values: tuple[int, ...] = ()
    duration_s: float | None = None
    needed_s: float | None = None
    capped: bool | None = None
    trials: tuple[PointTrial, ...] = ()


@dataclass(frozen=True)
class Confirmation(JsonRecord):
    """The confirmation step (tune.json "confirmation", schema 3): what the recommended value measured."""

    status: ConfirmStatus | None = None
    mode: str | None = None
    model_value: int | None = None
    cap_s: float | None = None
    trials_per_value: int | None = None
    lives: int | None = None
    rounds: tuple[ConfirmRound, ...] = ()
    results: tuple[ConfirmResult, ...] = ()
    life_s: float | None = None             # one child's predicted life at model_value
    observable: bool | None = None          # False: a life at model_value outlasts a capped trial
    needed_s: float | None = None           # a trial that would hold LIVES lives at model_value
    bound_value: int | None = None
    value: int | None = None
    sentence: str | None = None
    measured_loss: float | None = None
    loss_ci95: tuple[float, float] | None = None
    measured_at: int | None = None          # the value whose measurement this is (value, or the bound)
    rss_mb_end_of_life: float | None = None
    pss_mb_end_of_life: float | None = None
    capped: bool | None = None

    @property
    def state(self) -> ConfirmStatus:
        """The status; a record from before the step (or of an unknown status) reads as NONE."""
        return self.status or ConfirmStatus.NONE

    @property
    def ran(self) -> bool:
        return self.state.ran

    @property
    def bounded(self) -> bool:
        return self.state == ConfirmStatus.BOUNDED

    @property
    def measured_value(self) -> int | None:
        """The value whose measurement stands for the recommendation: itself, or (bounded) a smaller one."""
        return self.measured_at if "measured_at" not in self.absent else self.value


# --- the other knobs' recommendation, and every knob's advice ----------------------------------------------------
@dataclass(frozen=True)
class Sizing(JsonRecord):
    """The processes and threads knobs' recommendation (bench.tune.sizing, bench.tune.threads.recommend): the
    value (a count, or [processes, threads]) and each bound."""

    value: int | tuple[int, ...] | None = None
    binding: Binding | None = None
    knee: int | tuple[int, ...] | None = None
    best_rps: float | None = None
    rps: float | None = None
    p99_ms: float | None = None
    pss_mb: float | None = None
    memory_cap: int | None = None
    connection_cap: int | None = None
    connections_per_process: int | None = None
    connections: int | None = None
    max_p99_ms: float | None = None
    tolerance: float | None = None
    p99_cap: int | None = None
    within: bool | None = None
    reason: str | None = None

    @property
    def count(self) -> int | None:
        """The recommended count; None when nothing was recommended (0 is not a count)."""
        return self.value or None if isinstance(self.value, int) else None

    @property
    def shape(self) -> tuple[int, int] | None:
        """The recommended processes x threads (the threads knobs)."""
        v = self.value
        return (v[0], v[1]) if isinstance(v, tuple) and len(v) == 2 else None

    @property
    def bounds(self) -> list[tuple[str, int | None]]:
        """(constraint, processes it allows) in the report's order: knee, p99, memory, connections."""
        knee = self.knee if isinstance(self.knee, int) else None
        return [("knee", knee), ("p99", self.p99_cap), ("memory", self.memory_cap),
                ("connections", self.connection_cap)]


@dataclass(frozen=True)
class Advice(JsonRecord):
    """What a knob recommends: the directive lines to paste and why."""

    directives: tuple[str, ...] = ()
    reasoning: str | None = None
    mode: str | None = None       # max-connections-per-child: the keep-alive mode recommended
    confirmed: bool | None = None
    binding: Binding | None = None

