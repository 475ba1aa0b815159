"""bench/load/trial.py's collectors, each returning its typed part of the trial record, without a stack."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from bench.load.locust_master import MasterTrial
from bench.load.plan import Plan
from bench.load.trial import Notes, Trial, trial_dir
from bench.record.trial import ClientFigures, CpuFigures, PlanStep, ServerFigures


class FakeSampler:
    """CPU seconds and the busiest process per role, as the /proc sampler reports them."""

    def __init__(self, cpu: dict[str, float | None], busiest: float | None) -> None:
        self.cpu, self.busiest = cpu, busiest

    def cpu_between(self, role: str, start: float, end: float) -> float | None:
        return self.cpu.get(role)

    def busiest_pct(self, role: str, start: float, end: float) -> float | None:
        return self.busiest

    def busy_between(self, cpus: object, start: float, end: float) -> float | None:
        return None


def _trial(tmp_path: Path, live: object = None, **plan: object) -> Trial:
    step = PlanStep(3, 1, "db", "pooled")
    return Trial(tmp_path, Plan(**plan), step, "http://127.0.0.1:1", live, None)  # type: ignore[arg-type]


def test_cpu_of_a_url_run_has_no_server_side(tmp_path: Path) -> None:
    trial = _trial(tmp_path)
    trial.sampler = FakeSampler({"generator": 1.23456}, 40.0)  # type: ignore[assignment]
    cpu = trial._cpu(None, 0.0, 10.0)
    assert cpu == CpuFigures(None, None, None, 1.235, 40.0)
    assert list(cpu.to_json()) == ["apache_s", "postgres_s", "server_s", "generator_s", "generator_pct"]


def test_cpu_on_the_stack_sums_apache_and_postgres(tmp_path: Path) -> None:
    trial = _trial(tmp_path, live=SimpleNamespace())
    trial.sampler = FakeSampler({"generator": 1.0, "apache": 2.0004, "postgres": None}, 10.0)  # type: ignore[assignment]
    cpu = trial._cpu(None, 0.0, 10.0)
    assert (cpu.apache_s, cpu.postgres_s, cpu.server_s) == (2.0, None, 2.0)


def test_workers_elsewhere_are_the_generator_and_the_master_is_recorded_beside(tmp_path: Path) -> None:
    trial = _trial(tmp_path)
    master = MasterTrial.__new__(MasterTrial)
    master.lost = {"w2": 5.0}
    master.faults = lambda: ["worker w2 lost at +5.0s"]  # type: ignore[method-assign]
    trial.locust = master
    trial.sampler = FakeSampler({"generator": 0.5}, 12.0)  # type: ignore[assignment]
    per_pid = {"workers": {"w1": {"host": "lg1", "pid": 11, "cpu_s": 7.9, "seconds": 9.0, "cpu_pct": 87.8}}}
    notes = Notes()
    workers = trial._workers(per_pid, notes)
    assert workers is not None and notes.faults == ["worker w2 lost at +5.0s"]
    assert workers["w2"].lost is True and workers["w2"].to_json() == {"cpu_s": None, "cpu_pct": None, "lost": True}
    assert workers["w1"].to_json() == per_pid["workers"]["w1"]
    cpu = trial._cpu(workers, 0.0, 10.0)
    assert (cpu.generator_s, cpu.generator_pct, cpu.master_s, cpu.master_pct) == (7.9, 87.8, 0.5, 12.0)


def test_status_flags_name_errors_and_silence(tmp_path: Path) -> None:
    error_log = tmp_path / "error.log"
    error_log.write_text("")
    trial = _trial(tmp_path, live=SimpleNamespace(apache=SimpleNamespace(error_log=error_log)))
    assert trial._status_flags(ServerFigures(requests=10, status={"200": 10}), 0) == []
    flags = trial._status_flags(ServerFigures(requests=0, status={"503": 2}), 0)
    assert flags[0] == "server answered non-2xx: {'503': 2}" and flags[-1].startswith("no request completed")


def test_open_model_is_collected_only_at_a_rate(tmp_path: Path) -> None:
    notes = Notes()
    assert _trial(tmp_path)._open_model(None, notes) is None and notes.flags == []  # type: ignore[arg-type]
    rated = Trial(tmp_path, Plan(), PlanStep(1, 1, "db", "pooled", rate=50), "http://x", None, None)
    assert rated._open_model(None, notes) is None  # type: ignore[arg-type]
    assert notes.flags == ["the open model wrote no open.json: see locust.log"]


def test_the_step_names_the_trial_folder(tmp_path: Path) -> None:
    trial = _trial(tmp_path)
    assert trial.rel == "trials/003-db-pooled" and (tmp_path / trial.rel).is_dir()
    assert trial_dir({"seq": 1, "trial": 1, "workload": "db", "variant": "naive", "server": "mod_wsgi"}) \
        == "trials/001-db-naive-mod_wsgi"
    assert trial.users == 4 and ClientFigures.keys()[0] == "requests"
