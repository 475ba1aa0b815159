"""Run folders as readers see them, read tolerantly: `RunFolder`, what every run folder has (its record
and the per-trial files), and `Run`, a `bench run` folder (results.json).

Everything here follows docs/results-format.md. Values are read defensively (a missing key, a null or a
wrong type becomes None) because a report must still be built from an interrupted run or from an older
suite that wrote fewer fields; damaged per-trial files are recorded in `RunFolder.problems`, never raised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Self

from bench.record.errors import UserError
from bench.record.results import load_results
from bench.record.values import dig, lst, num, obj
from bench.vocabulary import VARIANTS


@dataclass(frozen=True)
class TrialRow:
    """One trial of results.json, checked once: every number is a float or None (missing, null or not a
    number), never 0 for "not recorded". `TrialRow.of` is the one constructor; `raw` keeps the record."""

    raw: dict[str, Any]
    seq: float | None
    workload: str
    variant: str
    server: str | None
    trial: str
    users: float | None
    locust_rps: float | None
    server_rps: float | None  # from the access log
    p99_ms: float | None
    failures: float | None
    server_util: float | None  # fraction of the server's CPUs its processes used
    generator_pct: float | None
    processes: float | None
    flags: tuple[str, ...]

    @classmethod
    def of(cls, t: dict[str, Any]) -> TrialRow:
        return cls(
            t, num(t.get("seq")), str(t.get("workload")), str(t.get("variant")), t.get("server_module") or None,
            str(t.get("trial")), num(t.get("users")), num(dig(t, "locust", "rps")), num(dig(t, "server", "rps")),
            num(dig(t, "locust", "p99_ms")), num(dig(t, "locust", "failures")),
            num(dig(t, "bottleneck", "server_util")), num(dig(t, "cpu", "generator_pct")),
            num(dig(t, "server", "processes")), tuple(str(f) for f in lst(t.get("flags"))),
        )


@dataclass
class Cell:
    """One workload x variant (x server, in a --servers run): its trials and its summary (medians over trials)."""

    workload: str
    variant: str
    trials: list[dict[str, Any]]
    summary: dict[str, Any]
    server: str | None = None  # --servers runs only: the Apache module (mod_python, mod_wsgi)

    @property
    def series(self) -> str:
        """The variant, and under --servers its server: what tells cells of one workload apart."""
        return self.variant if self.server is None else f"{self.variant} {self.server}"

    @property
    def label(self) -> str:
        return f"{self.workload} {self.series}"

    def values(self, *keys: str) -> list[float]:
        """A numeric field of every trial that has it, e.g. values("locust", "rps")."""
        out = []
        for trial in self.trials:
            v = num(dig(trial, *keys))
            if v is not None:
                out.append(v)
        return out

    def stat(self, key: str) -> float | None:
        return num(self.summary.get(key))


@dataclass
class RunFolder:
    """What every run folder has, `bench run`'s (results.json) or `bench tune`'s (tune.json): the record
    (`data`, checked by `load`) and the per-trial files below it, read tolerantly."""

    dir: Path
    data: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # unreadable per-trial files, for the caveats

    @staticmethod
    def load(run_dir: Path) -> dict[str, Any]:
        """The folder's record, checked; raises a one-line UserError."""
        raise NotImplementedError

    @classmethod
    def open(cls, run_dir: Path | str) -> Self:
        run_dir = Path(run_dir)
        return cls(run_dir, cls.load(run_dir))

    # --- top level -------------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return str(self.data.get("run_id") or self.dir.name)

    @property
    def complete(self) -> bool:
        return self.data.get("complete") is True

    @property
    def plan(self) -> dict[str, Any]:
        return obj(self.data.get("plan"))

    @property
    def machine(self) -> dict[str, Any]:
        return obj(dig(self.data, "environment", "machine"))

    @property
    def versions(self) -> dict[str, Any]:
        return obj(dig(self.data, "environment", "versions"))

    # --- files -----------------------------------------------------------------------------------
    def default_trial_dir(self, trial: dict[str, Any]) -> str | None:
        """Where a trial that names no `dir` lives; None: nowhere known."""
        return None

    def trial_path(self, trial: dict[str, Any]) -> Path | None:
        rel = trial.get("dir")
        if not isinstance(rel, str) or not rel:
            rel = self.default_trial_dir(trial)
            if rel is None:
                return None
        path = (self.dir / rel).resolve()
        # The record must not make the report read outside its own run folder.
        if not path.is_relative_to(self.dir.resolve()):
            self.problems.append(f"trial dir {rel!r} points outside the run folder; ignored")
            return None
        return path

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.dir.resolve()))
        except ValueError:
            return str(path)

    def read_json(self, path: Path) -> Any:
        """The JSON in `path`, or None when it is absent or unreadable (recorded in `problems`)."""
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.problems.append(f"{self.rel(path)}: unreadable ({exc})")
            return None

    def samples(self, trial: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The trial's samples.jsonl, or None when absent; damaged lines (a torn last line after a crash)
        are skipped."""
        base = self.trial_path(trial)
        if base is None or not (base / "samples.jsonl").is_file():
            return None
        path = base / "samples.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{self.rel(path)}: unreadable ({exc})")
            return None
        rows, bad = [], 0
        for line in lines:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict) and num(row.get("t")) is not None:
                rows.append(row)
            else:
                bad += 1
        if bad:
            self.problems.append(f"{self.rel(path)}: {bad} damaged line(s) skipped")
        return rows


class Run(RunFolder):
    """A `bench run` folder: results.json plus the per-trial files."""

    load = staticmethod(load_results)

    # --- top level -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.data.get("source") or "embedded")

    @property
    def stack(self) -> dict[str, Any] | None:
        stack = self.data.get("stack")
        return stack if isinstance(stack, dict) else None

    @property
    def checks(self) -> list[str]:
        return [str(c) for c in lst(self.data.get("checks"))]

    # --- results ---------------------------------------------------------------------------------
    @cached_property
    def cells(self) -> list[Cell]:
        cells = []
        for entry in lst(self.data.get("results")):
            if not isinstance(entry, dict) or not entry.get("workload") or not entry.get("variant"):
                continue
            trials = [t for t in lst(entry.get("trials")) if isinstance(t, dict)]
            if not trials and not isinstance(entry.get("summary"), dict):
                continue  # planned but not run yet (bench lists every cell up front)
            server = entry.get("server")
            cells.append(Cell(str(entry["workload"]), str(entry["variant"]), trials, obj(entry.get("summary")),
                              str(server) if server else None))
        order_w = {w: i for i, w in enumerate(self.workloads)}
        order_v = {v: i for i, v in enumerate(self.variants)}
        order_s = {s: i for i, s in enumerate(self.servers)}
        return sorted(cells, key=lambda c: (order_w.get(c.workload, 99), order_v.get(c.variant, 99),
                                            order_s.get(c.server or "", 99)))

    def cell(self, workload: str, variant: str, server: str | None = None) -> Cell | None:
        """The cell of workload x variant under `server` (None: a run without --servers)."""
        for c in self.cells:
            if c.workload == workload and c.variant == variant and c.server == server:
                return c
        return None

    @property
    def servers(self) -> list[str]:
        """The servers a --servers run interleaved, in the plan's order; [] for every other run."""
        return self._planned_then_found("servers", "server")

    @property
    def multi_server(self) -> bool:
        return len(self.servers) > 1

    def _planned_then_found(self, plan_key: str, key: str) -> list[str]:
        # The plan's order first (what the user asked for), then anything else the results hold.
        names = [str(v) for v in lst(self.plan.get(plan_key))]
        for entry in lst(self.data.get("results")):
            v = dig(entry, key)
            if v and str(v) not in names:
                names.append(str(v))
        return names

    @property
    def workloads(self) -> list[str]:
        return self._planned_then_found("workloads", "workload")

    @property
    def variants(self) -> list[str]:
        present = self._planned_then_found("variants", "variant")
        known = [v for v in VARIANTS if v in present]
        return known + [v for v in present if v not in VARIANTS]

    def speedups(self, metric: str = "rps") -> list[dict[str, Any]]:
        """Speedup entries of one metric. The format has one `speedups` list whose entries name their
        metric; bench also writes the CPU ones under `cpu_speedups`, so both lists are read. Only entries
        whose two cells are in this record count: a speedup is never shown beside data that is not there."""
        out = []
        for key in ("speedups", "cpu_speedups"):
            for s in lst(self.data.get(key)):
                if not isinstance(s, dict) or s.get("metric", "rps") != metric or num(s.get("ratio")) is None:
                    continue
                baseline = s.get("baseline") or "naive"
                server = s.get("server") or None
                if self.cell(str(s.get("workload")), str(s.get("variant")), server) is None or \
                        self.cell(str(s.get("workload")), str(baseline), server) is None:
                    continue
                out.append(s)
        return out

    def require_cells(self) -> None:
        """UserError unless at least one workload x variant has trials (or a summary) to report."""
        if not self.cells:
            missing = [k for k in ("results", "environment") if k not in self.data]
            why = f" (no {' or '.join(repr(k) for k in missing)} key)" if missing else ""
            raise UserError(f"no trials in {self.dir / 'results.json'}{why}: nothing to report or compare; "
                            "was the run stopped before its first trial ended?")

    def trials(self) -> list[dict[str, Any]]:
        every = [t for c in self.cells for t in c.trials]
        return sorted(every, key=lambda t: num(t.get("seq")) or 0)

    def trial_rows(self) -> list[TrialRow]:
        """The trials in the order run, as typed rows."""
        return [TrialRow.of(t) for t in self.trials()]

    def missing_trials(self) -> list[dict[str, Any]]:
        """Planned trials (plan.order) that have no record in results.json."""
        done = {int(s) for t in self.trials() if (s := num(t.get("seq"))) is not None}
        missing = []
        for entry in lst(self.plan.get("order")):
            seq = num(dig(entry, "seq"))
            if seq is not None and int(seq) not in done:
                missing.append(entry)
        return missing

    # --- files -----------------------------------------------------------------------------------
    def default_trial_dir(self, trial: dict[str, Any]) -> str | None:
        seq = num(trial.get("seq"))
        if seq is None:
            return None
        server = f"-{trial['server_module']}" if trial.get("server_module") else ""
        return f"trials/{int(seq):03d}-{trial.get('workload')}-{trial.get('variant')}{server}"

    def timeline(self, trial: dict[str, Any]) -> dict[str, Any] | None:
        """The trial's timeline.json, checked: seconds/requests of equal length, per_pid lists."""
        base = self.trial_path(trial)
        if base is None:
            return None
        data = self.read_json(base / "timeline.json")
        if not isinstance(data, dict):
            return None
        seconds = [num(s) for s in lst(data.get("seconds"))]
        requests = [num(r) for r in lst(data.get("requests"))]
        if not seconds or len(seconds) != len(requests) or None in seconds or None in requests:
            self.problems.append(f"{self.rel(base / 'timeline.json')}: seconds/requests missing or uneven")
            return None
        per_pid = {}
        for pid, series in obj(data.get("per_pid")).items():
            values = [num(v) for v in lst(series)]
            if len(values) == len(seconds) and None not in values:
                per_pid[str(pid)] = values
        return {
            "t0": num(data.get("t0")),
            "warmup_s": num(data.get("warmup_s")),
            "duration_s": num(data.get("duration_s")),
            "seconds": seconds,
            "requests": requests,
            "per_pid": per_pid,
        }

    def httpd_conf(self) -> str | None:
        path = self.dir / "httpd.conf"
        try:
            return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
        except OSError:
            return None

    def postgresql_conf(self) -> dict[str, Any] | None:
        data = self.read_json(self.dir / "postgresql.conf.json")
        return data if isinstance(data, dict) else None
