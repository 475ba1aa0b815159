"""A `bench tune` run folder as readers see it: tune.json plus the per-trial files, read tolerantly.

tune.json passes `bench.record.tune.load_tune` (schema gate, shape check) first. Past that check every
value is read once, here, defensively (a missing key, a null or a wrong type becomes None, which is not 0),
because an interrupted sweep writes fewer fields: the report reads the attributes of `TuneRun`, `Point`,
`TuneTrial`, `Mode`, `Check`, `Missing` and `Sizing`, not tune.json's dicts. Unreadable per-trial files are
recorded in `TuneRun.problems` (bench.record.run_folder.RunFolder), never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bench.record import stats
from bench.record.run_folder import RunFolder
from bench.record.tune import MODES as MODE_ORDER
from bench.record.tune import knob_of, load_tune
from bench.record.values import dig, lst, num, obj, pair


def mode_label(mode: str) -> str:
    return f"keep-alive {mode}"


def _int(value: Any) -> int | None:
    n = num(value)
    return None if n is None else int(n)


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


@dataclass
class TuneTrial:
    """One trial of a point, as tune.json holds it (the trial's own files: TuneRun.trial_json, samples)."""

    data: dict[str, Any]

    def stat(self, key: str) -> float | None:
        return num(self.data.get(key))

    @property
    def trial(self) -> int | None:
        return _int(self.data.get("trial"))

    @property
    def dir(self) -> str | None:
        return _str(self.data.get("dir"))

    @property
    def rps(self) -> float | None:
        return self.stat("rps")

    @property
    def server_rps(self) -> float | None:
        return self.stat("server_rps")

    @property
    def p99_ms(self) -> float | None:
        return self.stat("p99_ms")

    @property
    def failures(self) -> float | None:
        return self.stat("failures")

    @property
    def generator_bound(self) -> bool:
        return self.data.get("generator_bound") is True

    @property
    def window(self) -> tuple[float, float] | None:
        """The steady window, seconds after Apache started."""
        return pair(self.data.get("window_after_start"))

    @property
    def flags(self) -> list[str]:
        return [str(f) for f in lst(self.data.get("flags"))]

    @property
    def bottleneck(self) -> str | None:
        return _str(self.data.get("bottleneck"))

    @property
    def users(self) -> int | None:
        return _int(self.data.get("users"))


@dataclass
class Point:
    """One measured value of the knob (in one keep-alive mode): medians over its trials."""

    mode: str
    n: int
    data: dict[str, Any]

    def stat(self, key: str) -> float | None:
        return num(self.data.get(key))

    @property
    def trials(self) -> list[TuneTrial]:
        return [TuneTrial(t) for t in lst(self.data.get("trials")) if isinstance(t, dict)]

    @property
    def rps(self) -> float | None:
        return self.stat("rps")

    @property
    def server_rps(self) -> float | None:
        return self.stat("server_rps")

    @property
    def p99_ms(self) -> float | None:
        return self.stat("p99_ms")

    @property
    def pss_mb(self) -> float | None:
        """PSS per Apache process (the processes knob)."""
        return self.stat("pss_mb")

    @property
    def pss_mb_total(self) -> float | None:
        """Processes x PSS per process (the processes knob: the point's value is the count)."""
        return None if self.pss_mb is None else self.n * self.pss_mb

    @property
    def bottlenecks(self) -> list[str]:
        """The limit of each trial (server, generator, ...), each once; "-" where a trial named none."""
        return sorted({t.bottleneck or "-" for t in self.trials})

    @property
    def users(self) -> int | None:
        """The users of its first trial (the processes knob loads each count at its own users)."""
        return self.trials[0].users if self.trials else None

    @property
    def ci(self) -> tuple[float, float] | None:
        """The 95% interval of requests/s; None from a single trial, where bench writes [x, x]."""
        return pair(self.data.get("rps_ci95")) if len(self.trials) >= 2 else None

    @property
    def flags(self) -> list[str]:
        return [str(f) for f in lst(self.data.get("flags"))]

    @property
    def generator_bound(self) -> bool:
        return self.data.get("generator_bound") is True

    @property
    def failures(self) -> float:
        return self.stat("failures") or 0.0

    @property
    def label(self) -> str:
        return f"N = {self.n}, {mode_label(self.mode)}"

    @property
    def window_s(self) -> float | None:
        """Length of the steady window (median over trials), from window_after_start."""
        return stats.median([w[1] - w[0] for t in self.trials if (w := t.window)])


@dataclass
class ApacheSamples:
    """A trial's Apache memory over time (its samples.jsonl) and its clock (its trial.json)."""

    rss_kb: list[tuple[str, float, float]]  # (pid, epoch seconds, RSS KB) of each Apache sample with an RSS
    first_t: float | None                   # the earliest sample of any role
    started: float | None                   # when Apache started
    steady: tuple[float, float] | None      # the steady window, epoch seconds


@dataclass
class Check:
    """The model's prediction for one measured point (tune.json modes[mode].check[])."""

    data: dict[str, Any]

    @property
    def n(self) -> int:
        return int(num(self.data.get("value")) or 0)

    @property
    def measured(self) -> float | None:
        return num(self.data.get("measured_rps"))

    @property
    def predicted(self) -> float | None:
        return num(self.data.get("predicted_rps"))

    @property
    def error(self) -> float | None:
        return num(self.data.get("error"))

    @property
    def held_out_predicted(self) -> float | None:
        """The prediction of a model fitted without this point (leave-one-out; schema 3)."""
        return num(self.data.get("held_out_predicted_rps"))

    @property
    def held_out_error(self) -> float | None:
        return num(self.data.get("held_out_error"))

    @property
    def recycled(self) -> bool:
        return self.data.get("recycled") is True

    @property
    def signed_error(self) -> float | None:
        """(predicted - measured) / measured. The size is tune.json's `error` (from the unrounded prediction;
        predicted_rps is rounded to 0.1, too coarse at a few req/s), the sign from the two rates."""
        meas, pred, err = self.measured, self.predicted, self.error
        if err is None:
            return None if not meas or pred is None else (pred - meas) / meas
        return -err if pred is not None and meas is not None and pred < meas else err


@dataclass
class ConfirmResult:
    """One value the confirmation step measured against N = 0 (tune.json confirmation.results[])."""

    data: dict[str, Any]

    @property
    def n(self) -> int:
        return int(num(self.data.get("value")) or 0)

    def stat(self, key: str) -> float | None:
        return num(self.data.get(key))

    @property
    def loss_ci(self) -> tuple[float, float] | None:
        return pair(self.data.get("loss_ci95"))

    @property
    def prediction_interval(self) -> tuple[float, float] | None:
        return pair(self.data.get("prediction_interval"))

    @property
    def within_prediction(self) -> bool | None:
        w = self.data.get("within_prediction")
        return w if isinstance(w, bool) else None

    @property
    def trials(self) -> int | None:
        return _int(self.data.get("trials"))


@dataclass
class Confirmation:
    """The confirmation step (tune.json "confirmation", schema 3): what the recommended value measured.
    status "none": a record from before the step (nothing was measured); "skipped": --no-confirm."""

    data: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.data.get("status") or "none")

    @property
    def ran(self) -> bool:
        return self.status not in ("none", "skipped", "not run")

    @property
    def value(self) -> int | None:
        return _int(self.data.get("value"))

    @property
    def mode(self) -> str | None:
        return _str(self.data.get("mode"))

    @property
    def sentence(self) -> str | None:
        return _str(self.data.get("sentence"))

    @property
    def measured_at(self) -> int | None:
        """The value whose measurement stands for the recommendation: itself, or (bounded) a smaller one."""
        return _int(self.data.get("measured_at")) if "measured_at" in self.data else self.value

    @property
    def bounded(self) -> bool:
        return self.status == "bounded"

    @property
    def results(self) -> list[ConfirmResult]:
        return [ConfirmResult(r) for r in lst(self.data.get("results")) if isinstance(r, dict)]

    @property
    def rounds(self) -> list[dict[str, Any]]:
        return [r for r in lst(self.data.get("rounds")) if isinstance(r, dict)]

    @property
    def capped(self) -> bool:
        return self.data.get("capped") is True

    @property
    def cap_s(self) -> float | None:
        return num(self.data.get("cap_s"))


@dataclass
class Missing:
    """A planned trial not measured (tune.json missing[])."""

    data: dict[str, Any]

    @property
    def value(self) -> int | None:
        return _int(self.data.get("value"))

    @property
    def mode(self) -> str:
        return str(self.data.get("keepalive"))

    @property
    def trial(self) -> int | None:
        return _int(self.data.get("trial"))


@dataclass
class Sizing:
    """The processes knob's recommendation (tune.json "sizing", bench.tune.sizing): the count and each bound."""

    data: dict[str, Any]

    def _count(self, key: str) -> int | None:
        return _int(self.data.get(key))

    @property
    def value(self) -> int | None:
        """The recommended count; None when nothing was recommended (0 is not a count)."""
        return self._count("value") or None

    @property
    def binding(self) -> str | None:
        return _str(self.data.get("binding"))

    @property
    def bounds(self) -> list[tuple[str, int | None]]:
        """(constraint, processes it allows) in the report's order: knee, p99, memory, connections."""
        return [("knee", self._count("knee")), ("p99", self._count("p99_cap")),
                ("memory", self._count("memory_cap")), ("connections", self._count("connection_cap"))]


@dataclass
class Mode:
    """The tuner's conclusion for one keep-alive mode (tune.json modes[mode]); every part may be absent."""

    mode: str
    data: dict[str, Any]

    @property
    def model(self) -> dict[str, Any]:
        return obj(self.data.get("model"))

    def param(self, key: str) -> float | None:
        return num(self.model.get(key))

    @property
    def curve(self) -> list[tuple[int, float | None, float | None, float | None]]:
        """(N, rps, loss, rss_end_mb) on the model's grid."""
        out = []
        for c in lst(self.model.get("curve")):
            n = num(dig(c, "value"))
            if n is not None:
                out.append((int(n), num(c.get("rps")), num(c.get("loss")), num(c.get("rss_end_mb"))))
        return sorted(out)

    @property
    def checks(self) -> list[Check]:
        return [Check(c) for c in lst(self.data.get("check"))
                if isinstance(c, dict) and num(c.get("value")) is not None]

    @property
    def max_error(self) -> float | None:
        """The largest in-sample residual (the points the model was fitted to); see out_of_sample."""
        return num(self.data.get("max_error"))

    @property
    def out_of_sample(self) -> dict[str, Any]:
        """method (leave-one-out, or None: not checked), max_error, text (schema 3; older: upgraded to None)."""
        return obj(self.data.get("out_of_sample"))

    @property
    def oos_error(self) -> float | None:
        return num(self.out_of_sample.get("max_error"))

    @property
    def oos_text(self) -> str | None:
        return _str(self.out_of_sample.get("text"))

    @property
    def fitted_to(self) -> list[int]:
        return [int(v) for v in lst(self.data.get("fitted_to")) if num(v) is not None]

    @property
    def model_ok(self) -> bool | None:
        ok = self.data.get("model_ok")
        return ok if isinstance(ok, bool) else None

    @property
    def recommendation(self) -> dict[str, Any] | None:
        rec = self.data.get("recommendation")
        return rec if isinstance(rec, dict) and num(rec.get("value")) is not None else None

    @property
    def rec_n(self) -> int | None:
        rec = self.recommendation
        return None if rec is None else int(num(rec["value"]) or 0)

    @property
    def rec_loss(self) -> tuple[float | None, str]:
        """The recommendation's throughput loss and whether it was predicted or measured."""
        rec = self.recommendation or {}
        if num(rec.get("predicted_loss")) is not None:
            return num(rec["predicted_loss"]), "predicted"
        if num(rec.get("measured_loss")) is not None:
            return num(rec["measured_loss"]), "measured"
        return None, ""

    @property
    def rec_rss_mb(self) -> float | None:
        """RSS at the end of a child's life at the recommended N."""
        return num((self.recommendation or {}).get("rss_end_mb"))

    @property
    def source(self) -> str | None:
        rec = self.recommendation
        return None if rec is None or not rec.get("source") else str(rec["source"])

    @property
    def within(self) -> bool | None:
        rec = self.recommendation
        w = None if rec is None else rec.get("within")
        return w if isinstance(w, bool) else None

    @property
    def reason(self) -> str | None:
        r = self.data.get("reason")
        return None if r is None else str(r)


class TuneRun(RunFolder):
    """A `bench tune` folder: tune.json plus the per-trial files."""

    load = staticmethod(load_tune)

    # --- top level -------------------------------------------------------------------------------
    @property
    def knob(self) -> str:
        """The swept knob (tune.json plan "knob"; schema 1 knew only max-connections-per-child)."""
        return knob_of(self.data)

    @property
    def stack(self) -> dict[str, Any]:
        return obj(self.data.get("stack"))

    @property
    def server(self) -> str:
        """The Apache module the sweep ran under (older records: mod_python, the only one then)."""
        return str(self.stack.get("server") or "mod_python")

    @property
    def max_keepalive_requests(self) -> int | None:
        return _int(self.stack.get("max_keepalive_requests"))

    @property
    def max_loss(self) -> float | None:
        return num(self.plan.get("max_loss"))

    @property
    def max_p99_ms(self) -> float | None:
        return num(self.plan.get("max_p99_ms"))

    @property
    def slo(self) -> str | None:
        """--knob processes --slo: the SLO each count's capacity was searched at (its rps is that capacity)."""
        return _str(self.plan.get("slo"))

    @property
    def memory_budget_mb(self) -> float | None:
        return num(self.plan.get("memory_budget_mb"))

    @property
    def memory_budget_scope(self) -> str | None:
        return _str(self.plan.get("memory_budget_scope"))

    @property
    def finished(self) -> str | None:
        return _str(self.data.get("finished"))

    @property
    def concluded(self) -> bool:
        """Whether tune.json holds the per-mode conclusions (model, check, recommendation)."""
        return bool(obj(self.data.get("modes")))

    @property
    def workload(self) -> str:
        return str(self.plan.get("workload") or "?")

    @property
    def variant(self) -> str:
        return str(self.plan.get("variant") or "?")

    @property
    def processes(self) -> int | None:
        p = num(self.stack.get("processes"))
        return None if p is None else int(p)

    @property
    def advice(self) -> dict[str, Any]:
        return obj(self.data.get("advice"))

    @property
    def directives(self) -> list[str]:
        return [str(d) for d in lst(self.advice.get("directives"))]

    @property
    def reasoning(self) -> str | None:
        return _str(self.advice.get("reasoning"))

    @property
    def sizing(self) -> Sizing:
        return Sizing(obj(self.data.get("sizing")))

    @property
    def dropped(self) -> list[str]:
        """Values the sweep did not measure, each with why (the processes knob)."""
        return [str(d) for d in lst(self.data.get("dropped"))]

    @property
    def advice_mode(self) -> str | None:
        m = self.advice.get("mode")
        return m if m in MODE_ORDER else None

    @property
    def confirmation(self) -> Confirmation:
        return Confirmation(obj(self.data.get("confirmation")))

    @property
    def missing(self) -> list[Missing]:
        return [Missing(m) for m in lst(self.data.get("missing")) if isinstance(m, dict)]

    # --- points and modes ------------------------------------------------------------------------
    @cached_property
    def points(self) -> list[Point]:
        pts = [Point(str(p["keepalive"]), int(num(p["value"]) or 0), p) for p in lst(self.data.get("points"))]
        return sorted(pts, key=lambda p: (MODE_ORDER.index(p.mode), p.n))

    @property
    def modes(self) -> list[str]:
        """The keep-alive modes in a fixed order: planned, measured or concluded."""
        seen = {str(m) for m in lst(self.plan.get("keepalive"))} | {p.mode for p in self.points} \
            | set(obj(self.data.get("modes")))
        return [m for m in MODE_ORDER if m in seen]

    def mode_points(self, mode: str) -> list[Point]:
        return [p for p in self.points if p.mode == mode]

    def point(self, mode: str, n: int) -> Point | None:
        return next((p for p in self.points if p.mode == mode and p.n == n), None)

    def conclusion(self, mode: str) -> Mode:
        return Mode(mode, obj(obj(self.data.get("modes")).get(mode)))

    # --- files -----------------------------------------------------------------------------------
    def apache_samples(self, trial: TuneTrial) -> ApacheSamples | None:
        """The trial's Apache samples and clock; None when its samples.jsonl is missing."""
        rows = self.samples(trial.data)
        if rows is None:
            return None
        info = self.trial_json(trial) or {}
        rss = [(str(r.get("pid")), float(r["t"]), kb) for r in rows
               if r.get("role") == "apache" and (kb := num(r.get("rss_kb"))) is not None]
        return ApacheSamples(rss, min((float(r["t"]) for r in rows), default=None), num(info.get("started")),
                             pair(info.get("steady")))

    def trial_json(self, trial: TuneTrial) -> dict[str, Any] | None:
        base = self.trial_path(trial.data)
        data = None if base is None else self.read_json(base / "trial.json")
        return data if isinstance(data, dict) else None

    def httpd_conf(self) -> tuple[str, str] | None:
        """(trial dir, text) of the first trial folder that kept its generated httpd.conf."""
        for p in self.points:
            for t in p.trials:
                base = self.trial_path(t.data)
                if base is not None and (base / "httpd.conf").is_file():
                    try:
                        return self.rel(base), (base / "httpd.conf").read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
        return None
