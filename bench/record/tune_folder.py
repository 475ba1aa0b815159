"""A `bench tune` run folder as readers see it: tune.json plus the per-trial files, read tolerantly.

tune.json passes `bench.record.tune.load_tune` (schema gate, shape check) first. Past that check every
value is read defensively (a missing key, a null or a wrong type becomes None), because an interrupted
sweep writes fewer fields; unreadable per-trial files are recorded in `TuneRun.problems`
(bench.record.run_folder.RunFolder), never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bench.record import stats
from bench.record.run_folder import RunFolder
from bench.record.tune import MODES as MODE_ORDER
from bench.record.tune import load_tune
from bench.record.values import dig, lst, num, obj, pair


def mode_label(mode: str) -> str:
    return f"keep-alive {mode}"


@dataclass
class Point:
    """One measured MaxConnectionsPerChild value in one keep-alive mode: medians over its trials."""

    mode: str
    n: int
    data: dict[str, Any]

    def stat(self, key: str) -> float | None:
        return num(self.data.get(key))

    @property
    def trials(self) -> list[dict[str, Any]]:
        return [t for t in lst(self.data.get("trials")) if isinstance(t, dict)]

    @property
    def rps(self) -> float | None:
        return self.stat("rps")

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
        return stats.median([w[1] - w[0] for t in self.trials if (w := pair(t.get("window_after_start")))])


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
    def checks(self) -> list[dict[str, Any]]:
        return [c for c in lst(self.data.get("check")) if isinstance(c, dict) and num(c.get("value")) is not None]

    @property
    def max_error(self) -> float | None:
        return num(self.data.get("max_error"))

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
    def stack(self) -> dict[str, Any]:
        return obj(self.data.get("stack"))

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
    def advice_mode(self) -> str | None:
        m = self.advice.get("mode")
        return m if m in MODE_ORDER else None

    @property
    def missing(self) -> list[dict[str, Any]]:
        return [m for m in lst(self.data.get("missing")) if isinstance(m, dict)]

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
    def trial_json(self, trial: dict[str, Any]) -> dict[str, Any] | None:
        base = self.trial_path(trial)
        data = None if base is None else self.read_json(base / "trial.json")
        return data if isinstance(data, dict) else None

    def httpd_conf(self) -> tuple[str, str] | None:
        """(trial dir, text) of the first trial folder that kept its generated httpd.conf."""
        for p in self.points:
            for t in p.trials:
                base = self.trial_path(t)
                if base is not None and (base / "httpd.conf").is_file():
                    try:
                        return self.rel(base), (base / "httpd.conf").read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
        return None
