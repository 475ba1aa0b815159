"""results.json (docs/results-format.md): its schema, its shapes, its writer and its loader.

The writer (`RunRecord`) rewrites the file atomically after every trial, so a crash at trial 5 keeps
trials 1-4; the loader (`load_results`) is the one way in for every reader (reports, compare, the CLI).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

from bench.record import attribution, stats
from bench.record import bottleneck as bn
from bench.record.errors import UserError
from bench.record.files import now_iso, read_record, record_path, write_json
from bench.record.schema import upgrade as upgrade_schema
from bench.vocabulary import BASELINE

SCHEMA = 1
FILE = "results.json"

# from-version -> function turning a dict of that version into one of the next version. Empty: schema 1 is
# the first published format; schema 0 (drafts) was never written by a release, so it is refused.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


# --- shapes (docs/results-format.md; every key may be null in an interrupted or --url run) ------------
class LocustFigures(TypedDict):
    requests: int | None
    failures: int | None
    rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None


class Cpu(TypedDict):
    apache_s: float | None
    postgres_s: float | None
    server_s: float | None
    generator_s: float | None
    generator_pct: float | None


class Trial(TypedDict, total=False):
    seq: int
    trial: int
    workload: str
    variant: str
    dir: str
    started: float
    steady: list[float]
    locust: LocustFigures
    pids_seen_by_client: int
    server: dict[str, Any] | None  # access_log.window_summary
    rps_per_process: float | None
    cpu: Cpu
    requests_per_cpu_second: float | None
    memory: dict[str, float | None]
    db_sessions: int | None
    db_sessions_per_1000_requests: float | None
    access_vs_locust: float | None
    generator_bound: bool  # kept for readers of schema-1 folders: bottleneck is generator or shared
    failures: bool
    flags: list[str]
    users: int                    # Locust users of this trial (the cell's knee with --saturate)
    slots: int | None             # Apache processes of the fixed pool: rps_per_process = server rps / slots
    bottleneck: bn.Bottleneck     # what limited the trial, with the utilisations that decided it
    faults: list[str]             # "postgres restarted at +3.2s", "1 Apache child(ren) replaced ..."
    wrk: dict[str, Any] | None    # --cross-check: wrk on the same endpoint right after the trial
    locust_vs_wrk: float | None
    server_module: str            # --servers: the Apache module that served it ("server" is the access log's)


class Summary(TypedDict):
    trials: int
    rps: float | None
    rps_ci95: list[float] | None
    server_rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    server_p50_ms: float | None
    server_p99_ms: float | None
    rps_per_process: float | None
    requests_per_cpu_second: float | None
    rss_mb_per_process: float | None
    pss_mb_per_process: float | None
    pss_mb_total: float | None    # all Apache processes together (parent, children, mod_wsgi daemons)
    pss_mb_serving: float | None  # per process that served requests (access-log PIDs: mod_wsgi's daemons)
    db_sessions_per_1000_requests: float | None
    generator_pct: float | None
    failures: int
    generator_bound: bool
    bottleneck: str | None       # the cell's label: the most common over its trials (bn.cell_label)
    server_util: float | None    # median fraction of the server CPUs used
    others_util: float | None    # median fraction of the server CPUs used by processes not ours
    generator_busiest: float | None
    faults: int                  # trials with a fault
    wrk_rps: float | None
    locust_vs_wrk: float | None


class Speedup(TypedDict, total=False):
    workload: str
    variant: str
    baseline: str
    ratio: float
    ci95: list[float] | None  # null with a single trial on either side: no interval
    metric: str
    bottlenecks: dict[str, str | None]  # variant -> its cell's bottleneck, for both sides
    text: str                 # the ratio as it may honestly be stated ("at least 21.3x (pooled limited by ...)")
    server: str               # --servers: both sides ran under this server


class CellRecord(TypedDict, total=False):
    workload: str
    variant: str
    server: str               # --servers only: mod_python or mod_wsgi; absent in runs without --servers
    trials: list[Trial]
    summary: Summary | None


CellKey = tuple[str, str, str | None]


def cell_key(cell: CellRecord | dict[str, Any]) -> CellKey:
    """(workload, variant, server) of a cell record or a plan step; server None without --servers."""
    return cell["workload"], cell["variant"], cell.get("server")


def trial_key(trial: Trial | dict[str, Any]) -> CellKey:
    """The cell a trial belongs to (a trial's "server" is its access-log summary; its module is server_module)."""
    return trial["workload"], trial["variant"], trial.get("server_module")


# metric name in results.json -> the per-trial value it is a ratio of
SPEEDUP_METRICS: dict[str, tuple[str, ...]] = {
    "rps": ("locust", "rps"),
    "requests_per_cpu_second": ("requests_per_cpu_second",),
    "wrk_rps": ("wrk", "rps"),
}


def field(trial: dict[str, Any], *keys: str) -> Any:
    """trial[k1][k2]... or None when a level is missing."""
    v: Any = trial
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return v


def column(trials: Sequence[dict[str, Any]], *keys: str) -> list[Any]:
    return [field(t, *keys) for t in trials]


# --- derived figures -------------------------------------------------------------------------------
def summarize(trials: Sequence[Trial]) -> Summary:
    """A cell's summary: medians over its trials, the rps interval, failures summed."""
    def med(*keys: str, digits: int = 2) -> float | None:
        return stats.median(column(trials, *keys), digits)

    ci = stats.median_ci(column(trials, "locust", "rps"))
    return {
        "trials": len(trials),
        "rps": med("locust", "rps"),
        "rps_ci95": None if ci is None else [round(x, 2) for x in ci],
        "server_rps": med("server", "rps"),
        "p50_ms": med("locust", "p50_ms", digits=3),
        "p90_ms": med("locust", "p90_ms", digits=3),
        "p99_ms": med("locust", "p99_ms", digits=3),
        "max_ms": med("locust", "max_ms", digits=3),
        "server_p50_ms": med("server", "p50_ms", digits=3),
        "server_p99_ms": med("server", "p99_ms", digits=3),
        "rps_per_process": med("rps_per_process"),
        "requests_per_cpu_second": med("requests_per_cpu_second", digits=1),
        "rss_mb_per_process": med("memory", "rss_mb_per_process"),
        "pss_mb_per_process": med("memory", "pss_mb_per_process"),
        "pss_mb_total": med("memory", "pss_mb_total"),
        "pss_mb_serving": med("memory", "pss_mb_serving"),
        "db_sessions_per_1000_requests": med("db_sessions_per_1000_requests", digits=3),
        "generator_pct": med("cpu", "generator_pct", digits=1),
        "failures": int(sum(t["locust"]["failures"] or 0 for t in trials)),
        "generator_bound": any(t["generator_bound"] for t in trials),
        "bottleneck": bn.cell_label(column(trials, "bottleneck", "bottleneck")),
        "server_util": med("bottleneck", "server_util", digits=3),
        "others_util": med("bottleneck", "others_util", digits=3),
        "generator_busiest": med("bottleneck", "generator_busiest", digits=3),
        "faults": sum(1 for t in trials if t.get("faults")),
        "wrk_rps": med("wrk", "rps"),
        "locust_vs_wrk": med("locust_vs_wrk", digits=4),
    }


def speedups(cells: Sequence[CellRecord], metric: str = "rps", baseline: str = BASELINE) -> list[Speedup]:
    """Every variant against `baseline` on the same workload and server: ratio of medians with a bootstrap CI."""
    by_key = {cell_key(c): c for c in cells}
    pairs = [(cell, by_key.get((workload, baseline, server))) for (workload, variant, server), cell in by_key.items()
             if variant != baseline]
    return [s for cell, base in pairs if base is not None and (s := _speedup(cell, base, metric)) is not None]


def step_speedups(cells: Sequence[CellRecord], metric: str = "rps") -> list[Speedup]:
    """The one-factor steps of the variant table that ran ("prepared vs pooled"), as speedups of `new` over
    `base`. Not written to results.json: a report computes them from the cells (bench.record.attribution)."""
    by_key = {cell_key(c): c for c in cells}
    out: list[Speedup] = []
    for step in attribution.steps(sorted({v for _, v, _ in by_key}, key=str)):
        for (workload, variant, server), cell in by_key.items():
            base = by_key.get((workload, step.base, server))
            if variant == step.new and base is not None and (s := _speedup(cell, base, metric)) is not None:
                out.append(s)
    return out


def _speedup(cell: CellRecord, base: CellRecord, metric: str) -> Speedup | None:
    keys = SPEEDUP_METRICS[metric]
    workload, variant, server = cell_key(cell)
    baseline = base["variant"]
    r = stats.ratio_ci(column(base["trials"], *keys), column(cell["trials"], *keys))
    if r is None:
        return None
    item: Speedup = {"workload": workload, "variant": variant, "baseline": baseline,
                     "ratio": round(r.ratio, 3), "ci95": None if r.ci is None else [round(x, 3) for x in r.ci],
                     "metric": metric}
    if server is not None:
        item["server"] = server
    if metric == "rps":
        # Client-side rates are capacities only where the server was the limit: say so beside the ratio.
        labels = {v: bn.cell_label(column(c["trials"], "bottleneck", "bottleneck"))
                  for v, c in ((variant, cell), (baseline, base))}
        fast, slow = (variant, baseline) if r.ratio >= 1 else (baseline, variant)
        item["bottlenecks"] = labels
        item["text"] = bn.speedup_phrase(max(r.ratio, 1 / r.ratio) if r.ratio else r.ratio, fast, labels[fast],
                                         slow, labels[slow])
        if r.ratio < 1:
            item["text"] = f"{variant} is slower: {item['text']} in favour of {baseline}"
    return item


# --- writing ---------------------------------------------------------------------------------------
class RunRecord:
    """results.json of a run in progress: every cell planned up front, trials added as they finish."""

    def __init__(self, run_dir: Path, plan: dict[str, Any], stack: dict[str, Any] | None,
                 environment: dict[str, Any], source: str, checks: list[str], kind: str = "run"):
        self.path = run_dir / FILE
        self.data: dict[str, Any] = {
            "schema": SCHEMA, "kind": kind, "run_id": run_dir.name, "created": now_iso(), "finished": None,
            "complete": False, "source": source, "plan": plan, "stack": stack, "environment": environment,
            "checks": checks, "results": [], "speedups": [], "cpu_speedups": [],
        }
        for step in plan.get("order", []):
            key = cell_key(step)
            if key not in [cell_key(c) for c in self.data["results"]]:
                server = {"server": key[2]} if key[2] is not None else {}
                self.data["results"].append({"workload": key[0], "variant": key[1], **server, "trials": [],
                                             "summary": None})
        self.write()

    @property
    def trial_count(self) -> int:
        return sum(len(c["trials"]) for c in self.data["results"])

    def add_trial(self, trial: Trial) -> None:
        before = {k: self.data[k] for k in ("results", "speedups", "cpu_speedups")}
        self.data["results"] = [dict(c) for c in self.data["results"]]
        for cell in self.data["results"]:
            if cell_key(cell) == trial_key(trial):
                cell["trials"] = [*cell["trials"], trial]
                cell["summary"] = summarize(cell["trials"])
        cells = [c for c in self.data["results"] if c["trials"]]
        self.data["speedups"] = speedups(cells, "rps")
        self.data["cpu_speedups"] = speedups(cells, "requests_per_cpu_second")
        if any(t.get("wrk") for c in cells for t in c["trials"]):
            self.data["wrk_speedups"] = speedups(cells, "wrk_rps")
        try:
            self.write()
        except UserError as exc:
            # Keep memory equal to the file, so trial_count never claims a trial results.json lacks, and
            # name the trial that is on disk (its trial.json) but could not be recorded.
            self.data.update(before)
            raise UserError(f"{exc}: trial {trial.get('seq')} ({trial.get('dir')}) is on disk but not recorded "
                            "in results.json") from None

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
        write_json(self.path, self.data)


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
