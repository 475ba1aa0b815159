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

from bench.record.bottleneck import cell_label
from bench.record.errors import UserError
from bench.record.results import load_results
from bench.record.run_rows import (
    ApacheSample,
    Ceiling,
    CellSummary,
    PlanRecord,
    SaturationCell,
    Speedup,
    StackRecord,
    Timeline,
    TrialRow,
)
from bench.record.values import dig, lst, num, obj
from bench.vocabulary import VARIANTS


@dataclass
class Cell:
    """One workload x variant (x server, in a --servers run): its trials and its summary (medians over trials)."""

    workload: str
    variant: str
    trials: list[TrialRow]
    summary: CellSummary
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
            v = num(dig(trial.raw, *keys))
            if v is not None:
                out.append(v)
        return out

    @property
    def rps_values(self) -> list[float]:
        """Per-trial steady-state requests/s (Locust's, the rate summary.rps is the median of)."""
        return [t.locust_rps for t in self.trials if t.locust_rps is not None]

    def stat(self, key: str) -> float | None:
        return self.summary.stat(key)

    @property
    def recorded_trials(self) -> Any:
        """summary.trials as recorded (summary.json passes it on), else the number of trials present."""
        return self.summary.raw.get("trials", len(self.trials))

    @property
    def limit(self) -> str | None:
        """What limited the cell: its summary's label, else the most common over its trials; None: unlabelled."""
        return self.summary.bottleneck or cell_label([t.bottleneck for t in self.trials])

    @property
    def limit_or_bound(self) -> str | None:
        """`limit`, where older folders' generator_bound counts as "generator"."""
        return self.limit or ("generator" if self.summary.generator_bound else None)

    @property
    def representative(self) -> TrialRow | None:
        """The trial with the median requests/s: the one shown when a figure can show only one."""
        scored = sorted((t for t in self.trials if t.locust_rps is not None), key=lambda t: t.locust_rps or 0)
        if not scored:
            return self.trials[0] if self.trials else None
        return scored[(len(scored) - 1) // 2]


@dataclass
class RunFolder:
    """What every run folder has, `bench run`'s (results.json) or `bench tune`'s (tune.json): the record
    (`data`, checked by `load`) and the per-trial files below it, read tolerantly."""

    dir: Path
    data: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # unreadable per-trial files, for the caveats

    @staticmethod
    def load(run_dir: Path | str) -> dict[str, Any]:
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
    def created(self) -> Any:
        return self.data.get("created")

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

    @staticmethod
    def load(run_dir: Path | str) -> dict[str, Any]:
        return load_results(run_dir)

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

    @cached_property
    def options(self) -> PlanRecord:
        """The plan (bench run's options), typed."""
        return PlanRecord.of(self.plan)

    @cached_property
    def settings(self) -> StackRecord | None:
        """The generated stack's settings; None for a --url run."""
        return StackRecord.of(self.data.get("stack"))

    def recorded(self, *keys: str) -> list[tuple[str, Any]]:
        """Top-level values as recorded (created, finished, kind, schema ...), for the setup table."""
        return [(k, self.data.get(k)) for k in keys]

    @property
    def finished(self) -> Any:
        return self.data.get("finished")

    @property
    def notes(self) -> list[str]:
        return [str(n) for n in lst(self.data.get("notes"))]

    @cached_property
    def ceiling(self) -> Ceiling | None:
        """generator_ceiling (--cross-check), or None."""
        return Ceiling.of(self.data.get("generator_ceiling"))

    @cached_property
    def saturation(self) -> list[SaturationCell]:
        """--saturate: each probed cell."""
        return [SaturationCell.of(e) for e in lst(self.data.get("saturation")) if isinstance(e, dict)]

    @cached_property
    def wrk_speedups(self) -> list[Speedup]:
        """--cross-check: the speedups as wrk measured them."""
        return [r for s in lst(self.data.get("wrk_speedups")) if isinstance(s, dict) and (r := Speedup.of(s))]

    @property
    def labelled(self) -> bool:
        """True when the run labels its trials' bottlenecks (newer folders); older ones only have generator_bound."""
        return any(t.labelled for t in self.trials())

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
            cells.append(Cell(str(entry["workload"]), str(entry["variant"]), [TrialRow.of(t) for t in trials],
                              CellSummary.from_json(obj(entry.get("summary"))), str(server) if server else None))
        order_w = {w: i for i, w in enumerate(self.workloads)}
        order_v = {v: i for i, v in enumerate(self.variants)}
        order_s = {s: i for i, s in enumerate(self.servers)}
        return sorted(cells, key=lambda c: (order_w.get(c.workload, 99), order_v.get(c.variant, 99),
                                            order_s.get(c.server or "", 99)))

    def cell(self, workload: str | None, variant: str | None, server: str | None = None) -> Cell | None:
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

    def speedups(self, metric: str = "rps") -> list[Speedup]:
        """Speedup entries of one metric. The format has one `speedups` list whose entries name their
        metric; bench also writes the CPU ones under `cpu_speedups`, so both lists are read. Only entries
        whose two cells are in this record count: a speedup is never shown beside data that is not there."""
        out = []
        for key in ("speedups", "cpu_speedups"):
            for s in lst(self.data.get(key)):
                row = Speedup.of(s) if isinstance(s, dict) else None
                if row is None or row.metric != metric:
                    continue
                if self.cell(row.workload, row.variant, row.server) is None or \
                        self.cell(row.workload, row.baseline, row.server) is None:
                    continue
                out.append(row)
        return out

    def require_cells(self) -> None:
        """UserError unless at least one workload x variant has trials (or a summary) to report."""
        if not self.cells:
            missing = [k for k in ("results", "environment") if k not in self.data]
            why = f" (no {' or '.join(repr(k) for k in missing)} key)" if missing else ""
            raise UserError(f"no trials in {self.dir / 'results.json'}{why}: nothing to report or compare; "
                            "was the run stopped before its first trial ended?")

    def trials(self) -> list[TrialRow]:
        """The trials in the order run."""
        every = [t for c in self.cells for t in c.trials]
        return sorted(every, key=lambda t: t.seq or 0)

    def trial_rows(self) -> list[TrialRow]:
        """The trials in the order run (the name the trials table used first)."""
        return self.trials()

    def missing_trials(self) -> list[TrialRow]:
        """Planned trials (plan.order) that have no record in results.json."""
        done = {int(t.seq) for t in self.trials() if t.seq is not None}
        return [e for e in self.options.order if e.seq is not None and int(e.seq) not in done]

    # --- files -----------------------------------------------------------------------------------
    def default_trial_dir(self, trial: dict[str, Any]) -> str | None:
        row = TrialRow.of(trial)
        if row.seq is None:
            return None
        server = f"-{row.server}" if row.server else ""
        return f"trials/{int(row.seq):03d}-{row.workload}-{row.variant}{server}"

    def timeline(self, trial: TrialRow) -> Timeline | None:
        """The trial's timeline.json, checked: seconds/requests of equal length, per_pid lists."""
        base = self.trial_path(trial.raw)
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
        return Timeline(num(data.get("t0")), num(data.get("warmup_s")), num(data.get("duration_s")),
                        seconds, requests, per_pid)  # type: ignore[arg-type]

    def apache_samples(self, trial: TrialRow) -> list[ApacheSample]:
        """The trial's /proc samples of Apache processes that have an RSS ([] when none were recorded)."""
        out = []
        for s in self.samples(trial.raw) or []:
            rss = num(s.get("rss_kb"))
            if s.get("role") == "apache" and rss is not None:
                out.append(ApacheSample(str(s.get("pid")), float(s["t"]), rss, num(s.get("pss_kb"))))
        return out

    def httpd_conf(self) -> str | None:
        path = self.dir / "httpd.conf"
        try:
            return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
        except OSError:
            return None

    def postgresql_conf(self) -> dict[str, Any] | None:
        data = self.read_json(self.dir / "postgresql.conf.json")
        return data if isinstance(data, dict) else None
