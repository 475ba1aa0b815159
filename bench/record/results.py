"""results.json (docs/results-format.md): its schema, its writer and its loader.

The writer (`RunRecord`) rewrites the file atomically after every trial, so a crash at trial 5 keeps
trials 1-4; the loader (`load_results`) is the one way in for every reader (reports, compare, the CLI).
What it holds are records that write and read themselves: the cells (`run_rows.CellRecord`), their trials
(`trial.TrialRecord`), summaries (`run_rows.CellSummary`) and speedups (`run_rows.Speedup`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.record import attribution, stats
from bench.record import bottleneck as bn
from bench.record.errors import UserError
from bench.record.files import now_iso, read_record, record_path, write_json
from bench.record.run_rows import CellRecord, CellSummary, Speedup
from bench.record.schema import upgrade as upgrade_schema
from bench.record.trial import CellKey, ConnectionFigures, PlanStep, TrialRecord
from bench.vocabulary import BASELINE

SCHEMA = 1
FILE = "results.json"

# from-version -> function turning a dict of that version into one of the next version. Empty: schema 1 is
# the first published format; schema 0 (drafts) was never written by a release, so it is refused.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


# the metrics a speedup is a ratio of: Locust's rate, the rate per server CPU-second, wrk's rate
SPEEDUP_METRICS = ("rps", "requests_per_cpu_second", "wrk_rps")


# --- derived figures -------------------------------------------------------------------------------
def summarize(trials: Sequence[TrialRecord]) -> CellSummary:
    """A cell's summary: medians over its trials, the rps interval, failures summed."""
    def med(values: Iterable[float | None], digits: int = 2) -> float | None:
        return stats.median(list(values), digits)

    clients = [t.client for t in trials]
    servers = [t.server for t in trials]
    memory = [t.memory for t in trials]
    verdicts = [t.bottleneck for t in trials]
    wrk = [t.wrk for t in trials]
    ci = stats.median_ci([c.rps for c in clients])
    return CellSummary(
        trials=len(trials), rps=med(c.rps for c in clients),
        rps_ci95=None if ci is None else (round(ci[0], 2), round(ci[1], 2)),
        server_rps=med(s.rps if s else None for s in servers),
        p50_ms=med((c.p50_ms for c in clients), 3), p90_ms=med((c.p90_ms for c in clients), 3),
        p99_ms=med((c.p99_ms for c in clients), 3), max_ms=med((c.max_ms for c in clients), 3),
        server_p50_ms=med((s.p50_ms if s else None for s in servers), 3),
        server_p99_ms=med((s.p99_ms if s else None for s in servers), 3),
        rps_per_process=med(t.rps_per_process for t in trials),
        requests_per_cpu_second=med((t.requests_per_cpu_second for t in trials), 1),
        rss_mb_per_process=med(m.rss_mb_per_process if m else None for m in memory),
        pss_mb_per_process=med(m.pss_mb_per_process if m else None for m in memory),
        pss_mb_total=med(m.pss_mb_total if m else None for m in memory),
        pss_mb_serving=med(m.pss_mb_serving if m else None for m in memory),
        db_sessions_per_1000_requests=med((t.db_sessions_per_1000_requests for t in trials), 3),
        generator_pct=med((t.cpu.generator_pct if t.cpu else None for t in trials), 1),
        failures=int(sum(c.failures or 0 for c in clients)),
        generator_bound=any(t.generator_bound for t in trials),
        bottleneck=bn.cell_label([t.limit for t in trials]),
        server_util=med((v.server_util if v else None for v in verdicts), 3),
        others_util=med((v.others_util if v else None for v in verdicts), 3),
        generator_busiest=med((v.generator_busiest if v else None for v in verdicts), 3),
        faults=sum(1 for t in trials if t.faults), wrk_rps=med(w.rps if w else None for w in wrk),
        locust_vs_wrk=med((t.locust_vs_wrk for t in trials), 4),
        **connection_medians([t.connections for t in trials]),
    )


# the connection figures of a cell's summary: medians of its trials' (trial.json `connections`), and their digits
CONNECTION_DIGITS = {"server_connections_peak": 1, "server_connections_mean": 2, "backend_forks_per_s": 2,
                     "client_connections_peak": 1, "cl_waiting_peak": 1, "maxwait_ms_peak": 3,
                     "avg_wait_time_us_mean": 1}


def connection_medians(figures: Sequence[ConnectionFigures | None]) -> dict[str, Any]:
    """Each connection figure's median over the trials that measured it; None when none did (a --url or --dsn
    run, an older folder, PgBouncer's figures of a variant that does not go through it), never 0."""
    out: dict[str, Any] = {}
    for name, digits in CONNECTION_DIGITS.items():
        values = [getattr(f, name) for f in figures if f is not None]
        out[name] = stats.median([v for v in values if v is not None], digits)
    return out


def speedups(cells: Sequence[CellRecord], metric: str = "rps", baseline: str = BASELINE) -> list[Speedup]:
    """Every variant against `baseline` on the same workload and server: ratio of medians with a bootstrap CI."""
    by_key = {c.key: c for c in cells}
    pairs = [(cell, by_key.get(CellKey(key.workload, baseline, key.server))) for key, cell in by_key.items()
             if key.variant != baseline]
    return [s for cell, base in pairs if base is not None and (s := _speedup(cell, base, metric)) is not None]


def step_speedups(cells: Sequence[CellRecord], metric: str = "rps",
                  variants: attribution.Variants | None = None) -> list[Speedup]:
    """The one-factor steps of the variant table that ran ("prepared vs pooled"), as speedups of `new` over
    `base`. Not written to results.json: a report computes them from the cells (bench.record.attribution).
    `variants`: the run's table (attribution.of_stack), the suite's by default."""
    by_key = {c.key: c for c in cells}
    out: list[Speedup] = []
    variants = variants or attribution.of_stack(None)
    for step in variants.steps(sorted({k.variant for k in by_key}, key=str)):
        for key, cell in by_key.items():
            base = by_key.get(CellKey(key.workload, step.base, key.server))
            if key.variant == step.new and base is not None and (s := _speedup(cell, base, metric)) is not None:
                out.append(s)
    return out


def _speedup(cell: CellRecord, base: CellRecord, metric: str) -> Speedup | None:
    r = stats.ratio_ci(base.column(metric), cell.column(metric))
    if r is None:
        return None
    variant, baseline = cell.key.variant, str(base.variant)
    item = Speedup(workload=cell.key.workload, variant=variant, baseline=baseline, ratio=round(r.ratio, 3),
                   ci95=None if r.ci is None else (round(r.ci[0], 3), round(r.ci[1], 3)), metric=metric,
                   server=cell.key.server)
    if metric != "rps":
        return item
    # Client-side rates are capacities only where the server was the limit: say so beside the ratio.
    labels = {variant: cell.limit, baseline: base.limit}
    fast, slow = (variant, baseline) if r.ratio >= 1 else (baseline, variant)
    text = bn.speedup_phrase(max(r.ratio, 1 / r.ratio) if r.ratio else r.ratio, fast, labels[fast], slow,
                             labels[slow])
    if r.ratio < 1:
        text = f"{variant} is slower: {text} in favour of {baseline}"
    return replace(item, bottlenecks=labels, text=text)


# --- writing ---------------------------------------------------------------------------------------
class RunRecord:
    """results.json of a run in progress: every cell planned up front, trials added as they finish.

    `cells` (CellRecord) is what the file holds; `data` is the rest of the file (plan, stack, environment,
    the run-level sections), each written as it is set."""

    def __init__(self, run_dir: Path, plan: dict[str, Any], stack: dict[str, Any] | None,
                 environment: dict[str, Any], source: str, checks: list[str], kind: str = "run"):
        self.path = run_dir / FILE
        self.data: dict[str, Any] = {
            "schema": SCHEMA, "kind": kind, "run_id": run_dir.name, "created": now_iso(), "finished": None,
            "complete": False, "source": source, "plan": plan, "stack": stack, "environment": environment,
            "checks": checks, "results": [], "speedups": [], "cpu_speedups": [],
        }
        keys = dict.fromkeys(PlanStep.of(step).cell for step in plan.get("order", []))
        self.cells: list[CellRecord] = [CellRecord(k.workload, k.variant, k.server) for k in keys]
        self.write()

    @property
    def trial_count(self) -> int:
        return sum(len(c.trials) for c in self.cells)

    def add_trial(self, trial: TrialRecord | dict[str, Any]) -> None:
        """Record a finished trial in its cell, summarize the cell again and rewrite the file."""
        record = TrialRecord.of(trial)
        before = (self.cells, {k: self.data.get(k) for k in ("speedups", "cpu_speedups", "wrk_speedups")})
        self.cells = [self._with(c, record) if c.key == record.cell else c for c in self.cells]
        ran = [c for c in self.cells if c.trials]
        base = attribution.of_stack(self.data.get("stack")).baseline  # an --app-variant run: its none-kept
        self.data["speedups"] = speedups(ran, "rps", base)
        self.data["cpu_speedups"] = speedups(ran, "requests_per_cpu_second", base)
        if any(t.wrk is not None for c in ran for t in c.trials):
            self.data["wrk_speedups"] = speedups(ran, "wrk_rps", base)
        try:
            self.write()
        except UserError as exc:
            # Keep memory equal to the file, so trial_count never claims a trial results.json lacks, and
            # name the trial that is on disk (its trial.json) but could not be recorded.
            self.cells = before[0]
            self.data.update({k: v for k, v in before[1].items() if v is not None})
            raise UserError(f"{exc}: trial {record.seq} ({record.dir}) is on disk but not recorded "
                            "in results.json") from None

    @staticmethod
    def _with(cell: CellRecord, trial: TrialRecord) -> CellRecord:
        trials = (*cell.trials, trial)
        return replace(cell, trials=trials, summary=summarize(trials))

    def set_extra(self, key: str, value: Any) -> None:
        """A run-level section beside the cells (generator_ceiling, saturation), written at once."""
        self.data[key] = value
        self.write()

    def finish(self, complete: bool, note: str | None = None) -> None:
        self.data["finished"] = now_iso()
        self.data["complete"] = complete
        if note:
            self.data.setdefault("notes", []).append(note)
        try:
            self.write()
        except UserError:
            if complete:
                raise
            # Stopping early: the error that stopped the run is the one to report, not this repeat of it.

    def write(self) -> None:
        results = [c.to_json() for c in self.cells]
        write_json(self.path, {k: [s.to_json() for s in v] if k.endswith("speedups") else v
                               for k, v in (self.data | {"results": results}).items()})
        self.data["results"] = results  # as written (bench.load.offered_rate reads the cells from it)


# --- reading ---------------------------------------------------------------------------------------
def results_path(path: Path | str) -> Path:
    """The results.json for `path`, which is either a run folder or the file itself."""
    return record_path(path, FILE)


def load_results(path: Path | str) -> dict[str, Any]:
    """Read, check and upgrade a run's results.json; `path` is the run folder or the file.

    Raises UserError (one line) when the file is missing, unreadable, not JSON, or of a schema this
    version cannot read.
    """
    return upgrade(read_record(path, FILE, _why_absent), results_path(path))


def _why_absent(folder: Path) -> str:
    if (folder / "sessions.json").is_file():
        return (": it is a `bench sessions` folder (sessions.json); `bench report` builds its page, compare reads "
                "`bench run` folders only")
    if (folder / "tune.json").is_file():
        return (": it is a `bench tune` folder (tune.json); "
                "`python -m reports` builds its report, compare reads `bench run` folders only")
    return " (is it a run folder?)"


def upgrade(data: dict[str, Any], source: Path | str = FILE) -> dict[str, Any]:
    """Bring a results dict to SCHEMA, or refuse it. `source` only names the file in messages."""
    data = upgrade_schema(data, "results", SCHEMA, UPGRADES, source)
    _check_shape(data, source)
    return data


def _check_shape(data: dict[str, Any], source: Path | str) -> None:
    # Only what every reader relies on; extra keys are always allowed (the format grows by adding).
    results = data.get("results", [])
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise UserError(f"damaged {source}: \"results\" must be a list of objects")
    for key in ("plan", "stack", "environment"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise UserError(f"damaged {source}: \"{key}\" must be an object or null")
