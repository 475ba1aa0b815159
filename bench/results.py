"""results.json (schema 1, docs/results-format.md): trials as they finish, summaries, speedups.

Rewritten atomically after every trial, so a crash at trial 5 keeps trials 1-4.
"""

import datetime as dt
import json
import os
from pathlib import Path

from bench import stats

SCHEMA = 1


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def summarize(trials: list[dict]) -> dict:
    def col(*keys):
        out = []
        for t in trials:
            v = t
            for k in keys:
                v = v.get(k) if isinstance(v, dict) else None
            out.append(v)
        return out

    def med(*keys, digits=2):
        m = stats.median(col(*keys))
        return None if m is None else round(m, digits)

    rps = col("locust", "rps")
    ci = stats.median_ci(rps)
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
        "db_sessions_per_1000_requests": med("db_sessions_per_1000_requests", digits=3),
        "generator_pct": med("cpu", "generator_pct", digits=1),
        "failures": int(sum(t["locust"]["failures"] or 0 for t in trials)),
        "generator_bound": any(t["generator_bound"] for t in trials),
    }


def speedups(cells: list[dict], metric: tuple[str, ...], label: str, baseline: str = "naive") -> list[dict]:
    """Every variant against `baseline` on the same workload: ratio of medians with a bootstrap CI."""
    def values(cell):
        out = []
        for t in cell["trials"]:
            v = t
            for k in metric:
                v = v.get(k) if isinstance(v, dict) else None
            out.append(v)
        return out

    by_key = {(c["workload"], c["variant"]): c for c in cells}
    out = []
    for (workload, variant), cell in by_key.items():
        base = by_key.get((workload, baseline))
        if variant == baseline or base is None:
            continue
        r = stats.ratio_ci(values(cell), values(base))
        if r is not None:
            out.append({"workload": workload, "variant": variant, "baseline": baseline,
                        "ratio": round(r[0], 3), "ci95": [round(x, 3) for x in r[1]], "metric": label})
    return out


class RunRecord:
    def __init__(self, run_dir: Path, plan: dict, stack: dict | None, environment: dict, source: str,
                 checks: list[str], kind: str = "run"):
        self.path = run_dir / "results.json"
        self.data = {
            "schema": SCHEMA, "kind": kind, "run_id": run_dir.name, "created": now_iso(), "finished": None,
            "complete": False, "source": source, "plan": plan, "stack": stack, "environment": environment,
            "checks": checks, "results": [], "speedups": [], "cpu_speedups": [],
        }
        for step in plan.get("order", []):
            key = (step["workload"], step["variant"])
            if key not in [(c["workload"], c["variant"]) for c in self.data["results"]]:
                self.data["results"].append({"workload": key[0], "variant": key[1], "trials": [], "summary": None})
        self.write()

    def add_trial(self, trial: dict) -> None:
        for cell in self.data["results"]:
            if (cell["workload"], cell["variant"]) == (trial["workload"], trial["variant"]):
                cell["trials"].append(trial)
                cell["summary"] = summarize(cell["trials"])
        cells = [c for c in self.data["results"] if c["trials"]]
        self.data["speedups"] = speedups(cells, ("locust", "rps"), "rps")
        self.data["cpu_speedups"] = speedups(cells, ("requests_per_cpu_second",), "requests_per_cpu_second")
        self.write()

    def finish(self, complete: bool, note: str | None = None) -> None:
        self.data["finished"] = now_iso()
        self.data["complete"] = complete
        if note:
            self.data.setdefault("notes", []).append(note)
        self.write()

    def write(self) -> None:
        write_json(self.path, self.data)
