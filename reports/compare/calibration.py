"""An A/A calibration of the run-to-run noise: `bench compare --calibrate A A2 [A3 ...]` (runs of one commit,
one after the other, on the machine whose runs will be compared) writes calibration.json; later comparisons
read it with `--noise-from FILE` instead of assuming RUN_NOISE.

Per metric, per cell, the spread of the runs' mean log values beyond what the trials explain, pooled over
cells (bench.record.significance.estimate_run_noise). One A/A pair gives one degree of freedom per cell:
a rough figure, whose 90% upper bound is printed beside it; three or more runs give a better one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.record import significance
from bench.record.errors import UserError
from bench.record.files import write_atomic
from reports.compare.analysis import ALL_METRICS, COMPARE_DIR, Noise, open_runs, trial_values
from reports.compare.pairing import Match, pairs

KIND = "compare-calibration"
SCHEMA = 1
FILE_NAME = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    """calibration.json: the measured run-to-run noise per metric, and the runs it came from."""

    runs: tuple[str, ...]
    run_dirs: tuple[str, ...]
    metrics: dict[str, significance.NoiseEstimate]
    machine: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": KIND, "schema": SCHEMA, "runs": list(self.runs), "run_dirs": list(self.run_dirs),
                "machine": self.machine, "noise_floor": significance.NOISE_FLOOR,
                "metrics": {m: e.to_json() for m, e in self.metrics.items()}}

    @classmethod
    def of(cls, data: Any, source: Path) -> Calibration:
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise UserError(f"--noise-from {source}: not a calibration file (write one with bench compare "
                            "--calibrate A A2)")
        if data.get("schema") != SCHEMA:
            raise UserError(f"--noise-from {source}: unsupported calibration schema {data.get('schema')!r}: this "
                            f"suite reads schema {SCHEMA}")
        try:
            metrics = {str(m): significance.NoiseEstimate.of(e) for m, e in (data.get("metrics") or {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"--noise-from {source}: a damaged metric entry ({exc})") from None
        if not metrics:
            raise UserError(f"--noise-from {source}: it holds no metric")
        return cls(tuple(data.get("runs") or ()), tuple(data.get("run_dirs") or ()), metrics,
                   dict(data.get("machine") or {}))

    def noise(self, source: Path) -> Noise:
        """The noise rule a comparison takes from this file (the default where it has no metric)."""
        return Noise(calibrated=self.metrics, source=f"calibrated: {source} (A/A runs {', '.join(self.runs)})",
                     machine=self.machine)


def calibrate(run_dirs: Sequence[Path | str], *, force: bool = False, matches: Sequence[Match] = ()) -> Calibration:
    """The run-to-run noise per metric from runs of one commit (each later run paired with the first)."""
    runs, _ = open_runs(run_dirs, force)
    first = runs[0]
    per_run = [{(p.workload, p.series): p.new for p in pairs(first, other, matches) if p.base and p.new}
               for other in runs[1:]]
    cells = [c for c in first.cells if all((c.workload, c.series) in k for k in per_run)]
    metrics = {}
    for metric in ALL_METRICS:
        values = [[trial_values(c, metric), *(trial_values(k[(c.workload, c.series)], metric) for k in per_run)]
                  for c in cells]
        estimate = significance.estimate_run_noise(values)
        if estimate is not None:
            metrics[metric] = estimate
    if not metrics:
        raise UserError(f"nothing to calibrate: no cell has trial values in all of {', '.join(r.run_id for r in runs)}")
    return Calibration(tuple(r.run_id for r in runs), tuple(str(r.dir) for r in runs), metrics, dict(first.machine))


def write(calibration: Calibration, out: Path | str | None) -> Path:
    """calibration.json into `out` (default: <last run>/compare/); its path."""
    folder = Path(out) if out is not None else Path(calibration.run_dirs[-1]) / COMPARE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILE_NAME
        write_atomic(path, json.dumps(calibration.to_json(), indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the calibration into {folder}: {exc.strerror or exc}") from None
    return path


def load(path: Path | str) -> Calibration:
    source = Path(path)
    try:
        data = json.loads(source.read_text())
    except FileNotFoundError:
        raise UserError(f"--noise-from {source}: no such file (write one with bench compare --calibrate A A2)") \
            from None
    except (OSError, ValueError) as exc:
        raise UserError(f"--noise-from {source}: cannot read it ({exc})") from None
    return Calibration.of(data, source)
