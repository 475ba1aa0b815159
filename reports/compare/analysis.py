"""Comparing runs: which settings must match, the change of each metric per workload and variant, and
its verdict.

Every verdict comes from bench.record.significance.change_test on the trial values of both runs: a test of
the log values that adds run-to-run noise (`run_noise`, or a calibrated figure per metric) to the spread
within each run, an equivalence test for "no change" and a threshold (`min_change`, percent). With fewer
than 3 trials on a side a cell is "inconclusive" and never a regression. Runs are only comparable on the
same machine and stack settings, and only when at least one workload x variant has trials in both (cells
named differently are paired with --match, reports/compare/pairing.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.record import significance
from bench.record.errors import UserError
from bench.record.run_folder import Cell, Run
from bench.record.run_rows import CellSummary, TrialRow
from bench.record.values import num
from reports.compare import DEFAULT_MIN_CHANGE, DEFAULT_RUN_NOISE, METRIC_RULES
from reports.compare.pairing import Match, Pair, pairs
from reports.kit.fmt import setting_text

EXIT_OK = 0
EXIT_ERROR = 1          # bad input (bench.record.errors.UserError)
EXIT_REGRESSION = 3     # at least one regression
EXIT_INCONCLUSIVE = 4   # no regression, but at least one verdict could not be decided

COMPARE_DIR = "compare"

# What must match for two runs to be comparable: (where, key, label).
SETTINGS: list[tuple[str, str, str]] = [
    ("machine", "cores", "machine cores"),
    ("machine", "memory_gb", "machine memory_gb"),
    ("machine", "cpu_model", "machine cpu_model"),
    ("stack", "processes", "stack processes"),
    ("stack", "keepalive", "stack keepalive"),
    ("stack", "pool_size", "stack pool_size"),
    ("stack", "max_connections_per_child", "stack max_connections_per_child"),
    ("plan", "users", "plan users"),
    ("plan", "connection_close", "plan connection_close"),
    ("run", "source", "source"),
]
MEMORY_TOLERANCE = 0.02  # MemTotal moves a little between boots of the same machine

# metric -> (its per-trial value, its summary median, label, higher is better)
METRICS: dict[str, tuple[Callable[[TrialRow], float | None], Callable[[CellSummary], float | None], str, bool]] = {
    "rps": (lambda t: t.locust_rps, lambda s: s.rps, "req/s", True),
    "p99_ms": (lambda t: t.p99_ms, lambda s: s.p99_ms, "p99 ms", False),
}
# Does not depend on the generator: the verdict a CI gate on a busy or small machine can trust. Judged
# beside METRICS, counted in its own sentence, and only where both runs measured it (not --url runs).
CPU_METRIC = "requests_per_cpu_second"
ALL_METRICS = {**METRICS, CPU_METRIC: (lambda t: t.requests_per_cpu_second,
                                       lambda s: s.requests_per_cpu_second, "req/CPU-s", True)}


def rule(metric: str, min_change: float, run_noise: float, fixed_rate: bool = False) -> tuple[float, float]:
    """(run noise, minimum change %) the verdict on `metric` uses: its own (METRIC_RULES) or the options'.

    req/CPU-s has its own rule only between runs offered the same rates (--rate): in a closed loop the
    CPU per request moves with the throughput the loop happened to reach (measured here: trials of one run
    15% apart), at a fixed offered rate it does not (3%). A metric's own rule is never looser than the
    options ask."""
    own = METRIC_RULES.get(metric) if fixed_rate else None
    if own is None:
        return run_noise, min_change
    return min(own[0], run_noise), min(own[1], min_change)


def setting(run: Run, where: str, key: str) -> Any:
    if where == "machine":
        return run.machine.get(key)
    if where == "stack":
        return None if run.stack is None else run.stack.get(key)
    if where == "plan":
        return run.plan.get(key)
    return run.source


def _same(key: str, a: Any, b: Any) -> bool:
    x, y = num(a), num(b)
    if key == "memory_gb" and x is not None and y is not None:
        return math.isclose(x, y, rel_tol=MEMORY_TOLERANCE)
    return a == b


def setting_differences(runs: Sequence[Run]) -> list[str]:
    """'label: value in A vs value in B' for every comparability setting that differs from the first run."""
    first = runs[0]
    out = []
    for other in runs[1:]:
        for where, key, label in SETTINGS:
            a, b = setting(first, where, key), setting(other, where, key)
            if not _same(key, a, b):
                out.append(f"{label}: {setting_text(a)} in {first.run_id} vs {setting_text(b)} in {other.run_id}")
    return out


@dataclass(frozen=True)
class Change:
    """One metric of one cell of a later run against the first run, and its verdict."""

    workload: str
    variant: str                # as the first run calls it
    metric: str
    run_id: str
    base: float | None          # the cell's summary median in the first run
    value: float | None         # ... and in this run
    ratio: float | None         # geometric mean of the trial values, this run / first run
    p_value: float | None
    verdict: str                # significance.VERDICTS, or "missing" (the cell is in one run only)
    why: str
    trials: tuple[int, int]     # trial values on each side
    run_noise: float | None = None   # the rule this verdict used (metric's own, calibrated, or the options')
    min_change: float | None = None
    ci95_pct: tuple[float, float] | None = None  # the 95% interval of the change, percent
    detectable: significance.Detectable | None = None
    matched: str | None = None  # the later run's name of the cell, when --match paired differently named cells
    noise_source: str | None = None  # where run_noise came from

    @property
    def pct(self) -> float | None:
        return None if self.ratio is None else 100 * (self.ratio - 1)

    @property
    def cell(self) -> str:
        """The cell as the terminal and the page name it ("app v1 = v2 in RUN" when --match paired names)."""
        return f"{self.workload} {self.variant}" + (f" = {self.matched}" if self.matched else "")

    def to_json(self) -> dict[str, Any]:
        """compare.json's entry: the keys it always had, then the interval, the detectable change, the match."""
        return {"workload": self.workload, "variant": self.variant, "metric": self.metric, "run": self.run_id,
                "base": self.base, "value": self.value, "trials": list(self.trials), "ratio": self.ratio,
                "change_pct": self.pct, "p_value": self.p_value, "verdict": self.verdict, "why": self.why,
                "run_noise_used": self.run_noise, "min_change_used": self.min_change,
                "ci95_pct": None if self.ci95_pct is None else [round(v, 2) for v in self.ci95_pct],
                "detectable": None if self.detectable is None else self.detectable.to_json(),
                "matched_variant": self.matched, "noise_source": self.noise_source}


@dataclass(frozen=True)
class Noise:
    """The run-to-run noise each metric's verdict assumes: --run-noise (default RUN_NOISE), a metric's own rule
    (METRIC_RULES), or per metric from an A/A calibration (--noise-from)."""

    run_noise: float = DEFAULT_RUN_NOISE
    calibrated: dict[str, significance.NoiseEstimate] = field(default_factory=dict)
    source: str = significance.RUN_NOISE_SOURCE  # of run_noise: the default's origin, --run-noise, or the file
    machine: dict[str, Any] | None = None  # a calibration's: where its figures were measured

    def rule(self, metric: str, min_change: float, fixed_rate: bool = False) -> tuple[float, float, str]:
        """(run noise, minimum change %, where the noise comes from) of the verdict on `metric`."""
        measured = self.calibrated.get(metric)
        noise, minimum = rule(metric, min_change, self.run_noise, fixed_rate)
        if measured is not None:
            return measured.run_noise, minimum, self.source
        if noise != self.run_noise:
            return noise, minimum, "req/CPU-s's own rule between runs offered the same rate"
        if self.calibrated:  # a calibration without this metric: the default, said so
            return noise, minimum, f"{significance.RUN_NOISE_SOURCE} (the calibration has no {metric})"
        return noise, minimum, self.source


@dataclass(frozen=True)
class Comparison:
    run_ids: list[str]
    min_change: float
    run_noise: float
    changes: list[Change]
    differences: list[str]
    forced: bool
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # cells measured while other processes held the server CPUs
    warnings: list[str] = field(default_factory=list)  # e.g. a calibration from another machine
    noise: Noise = field(default_factory=Noise)
    matches: list[Match] = field(default_factory=list)

    def _with(self, verdict: str) -> list[Change]:
        return [c for c in self.changes if c.verdict == verdict]

    @property
    def regressions(self) -> list[Change]:
        return self._with("regression")

    @property
    def improvements(self) -> list[Change]:
        return self._with("improvement")

    @property
    def inconclusive(self) -> list[Change]:
        return self._with("inconclusive")

    @property
    def no_change(self) -> list[Change]:
        return self._with("no change")

    @property
    def exit_code(self) -> int:
        """3 on a regression, else 4 when a verdict is inconclusive, else 0."""
        if self.regressions:
            return EXIT_REGRESSION
        return EXIT_INCONCLUSIVE if self.inconclusive else EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_REGRESSION: "regression", EXIT_INCONCLUSIVE: "inconclusive"}.get(self.exit_code, "no regression")


def trial_values(cell: Cell | None, metric: str) -> list[float]:
    if cell is None:
        return []
    of_trial, of_summary, _, _ = ALL_METRICS[metric]
    vals = [v for t in cell.trials if (v := of_trial(t)) is not None]
    median = of_summary(cell.summary)
    if not vals and median is not None:
        vals = [median]  # an older run without per-trial values: one value, inconclusive
    return vals


def _change(pair: Pair, metric: str, run_id: str, min_change: float, noise: Noise,
            fixed_rate: bool = False) -> Change:
    _, of_summary, _, higher = ALL_METRICS[metric]
    a, b = pair.base, pair.new
    base_vals, new_vals = trial_values(a, metric), trial_values(b, metric)
    base = None if a is None else of_summary(a.summary)
    value = None if b is None else of_summary(b.summary)
    trials = (len(base_vals), len(new_vals))
    if a is None or b is None:
        where = "the first run" if b is None else run_id
        return Change(pair.workload, pair.series, metric, run_id, base, value, None, None, "missing",
                      f"only in {where}", trials)
    run_noise, minimum, source = noise.rule(metric, min_change, fixed_rate)
    v = significance.change_test(base_vals, new_vals, higher_is_better=higher, min_change_pct=minimum,
                                 run_noise=run_noise)
    return Change(pair.workload, pair.series, metric, run_id, base, value, v.ratio, v.p_value, v.verdict, v.why,
                  trials, run_noise, minimum, v.ci95_pct, v.detectable, pair.new_series, source)


def _changes(runs: Sequence[Run], min_change: float, noise: Noise, matches: Sequence[Match]) -> list[Change]:
    first = runs[0]
    changes = []
    for other in runs[1:]:
        # --servers runs: a cell is workload x variant x server, shown as "pooled mod_wsgi" (Cell.series).
        for pair in pairs(first, other, matches):
            for metric in METRICS:
                changes.append(_change(pair, metric, other.run_id, min_change, noise))
            if trial_values(pair.base, CPU_METRIC) and trial_values(pair.new, CPU_METRIC):
                changes.append(_change(pair, CPU_METRIC, other.run_id, min_change, noise, same_rates(first, other)))
    return changes


def same_rates(a: Run, b: Run) -> bool:
    """Both runs offered the same rates (bench run --rate): the open model, a fixed amount of work per second."""
    rates = a.plan.get("rates")
    return bool(rates) and rates == b.plan.get("rates")


def _require_common_cells(runs: Sequence[Run], matches: Sequence[Match]) -> None:
    """No workload x variant with trials in both runs: nothing was compared, which must not pass a gate."""
    first = runs[0]
    for other in runs[1:]:
        if any(trial_values(p.base, "rps") and trial_values(p.new, "rps") for p in pairs(first, other, matches)):
            continue

        def cells(run: Run) -> str:
            names = sorted(f"{c.workload} {c.series}" for c in run.cells if trial_values(c, "rps"))
            return ", ".join(names) or "no trials"

        raise UserError(f"no comparable cell: no workload x variant has trials in both {first.run_id} "
                        f"({cells(first)}) and {other.run_id} ({cells(other)}); when the same application or "
                        "variant has two names, pair them with --match A=B")


def check_settings(min_change: float, run_noise: float) -> None:
    if not math.isfinite(min_change) or not 0 <= min_change < 1000:
        raise UserError(f"--min-change {min_change:g} is not allowed: use a percentage >= 0 and below 1000")
    if not math.isfinite(run_noise) or not 0 <= run_noise <= 1:
        raise UserError(f"--run-noise {run_noise:g} is not allowed: use a standard deviation in log units "
                        f"from 0 to 1 (default {significance.RUN_NOISE:g}, about 5.5%)")


def open_runs(run_dirs: Sequence[Path | str], force: bool) -> tuple[list[Run], list[str]]:
    """The runs, and the comparability settings that differ (UserError for them unless force)."""
    if len(run_dirs) < 2:
        raise UserError("compare needs at least two run folders")
    runs = [Run.open(d) for d in run_dirs]
    diffs = setting_differences(runs)
    if diffs and not force:
        raise UserError("runs are not comparable (" + "; ".join(diffs) + "); pass --force to compare anyway")
    return runs, diffs


def compare(run_dirs: Sequence[Path | str], *, min_change: float = DEFAULT_MIN_CHANGE,
            run_noise: float = DEFAULT_RUN_NOISE, force: bool = False, out: Path | str | None = None,
            matches: Sequence[Match] = (), noise: Noise | None = None) -> tuple[Comparison, list[Run]]:
    """The comparison of each later run with the first, and the runs read.

    `noise` (a calibration) overrides run_noise where it has the metric. Raises UserError for fewer than two
    runs, a bad min_change or run_noise, unreadable runs, runs with no workload x variant in common, a --match
    naming no cell, or (without force) runs whose machine or stack settings differ.
    """
    check_settings(min_change, run_noise)
    if noise is None:
        noise = Noise(run_noise, source=significance.RUN_NOISE_SOURCE if run_noise == significance.RUN_NOISE
                      else "--run-noise")
    runs, diffs = open_runs(run_dirs, force)
    _require_common_cells(runs, matches)
    out_dir = Path(out) if out is not None else runs[-1].dir / COMPARE_DIR
    changes = _changes(runs, min_change, noise, matches)
    return Comparison([r.run_id for r in runs], min_change, noise.run_noise, changes, diffs, force, out_dir,
                      busy=busy_cells(runs), warnings=_machine_warnings(noise, runs), noise=noise,
                      matches=list(matches)), runs


def _machine_warnings(noise: Noise, runs: Sequence[Run]) -> list[str]:
    """A line when the compared runs were measured on another machine than the calibration's."""
    if noise.machine is None:
        return []
    keys = ("cores", "cpu_model")
    theirs = {k: noise.machine.get(k) for k in keys}
    where = f"{theirs['cores']} cores, {theirs['cpu_model']}"
    return [f"the calibration was measured on another machine ({where}) than {r.run_id}: its noise figures may "
            "not apply" for r in runs if {k: r.machine.get(k) for k in keys} != theirs][:1]


BUSY_NOTICE = 0.10  # of the server CPUs used by processes not the server's (bench/record/bottleneck.py)


def busy_cells(runs: Sequence[Run]) -> list[str]:
    """Cells whose trials ran while other processes used a share of the server CPUs: their rates are lower
    than on a quiet machine, and the run-to-run noise assumed by the test may not cover it."""
    out = []
    for run in runs:
        for cell in run.cells:
            share = cell.summary.others_util
            if share is not None and share >= BUSY_NOTICE:
                out.append(f"{run.run_id} {cell.label}: other processes used {100 * share:.0f}% of the server "
                           "CPUs (a busy machine: compare again on a quiet one before trusting a change)")
    return out
