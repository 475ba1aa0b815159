"""An unwritable run folder (issue 9 item 4): refused before anything starts; when it becomes unwritable
during a run, one line, the stack stopped, what was written kept, and the trial that could not be recorded
named. Root ignores mode bits, so folders are made immutable with `chattr +i` (ext4, as root)."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO, bench_cli, make_state_dir

from bench.record.errors import UserError
from bench.record.files import check_writable, write_atomic
from bench.stack import procs


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """`path` made immutable for the block; always made mutable again, even when the test fails."""
    if not _chattr("+i", path):
        pytest.skip("chattr +i is not supported here (not root, or not ext4)")
    try:
        yield path
    finally:
        _chattr("-i", path)


def test_check_writable_and_the_atomic_writer(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    assert check_writable(runs) == runs.resolve()
    assert check_writable(runs / "not" / "yet") == (runs / "not" / "yet").resolve()  # made later, in runs/
    with immutable(runs):
        with pytest.raises(UserError, match=f"cannot write into {runs}: {runs} is not writable"):
            check_writable(runs, "; set BENCH_RUNS_DIR")
        with pytest.raises(UserError, match=f"cannot write into {runs / 'new'}: {runs} is not writable"):
            check_writable(runs / "new")
        with pytest.raises(UserError, match=f"cannot write {runs / 'results.json'}: Operation not permitted"):
            write_atomic(runs / "results.json", "{}")
    assert list(runs.iterdir()) == []  # no temporary file left behind


@pytest.mark.integration
def test_read_only_runs_folder_is_refused_before_anything_starts(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state), "BENCH_RUNS_DIR": str(runs)}
    with immutable(runs):
        r = bench_cli("run", "--workloads", "db", "--variants", "pooled", "--trials", "1", "--duration", "3",
                      "--warmup", "1", "--port", str(procs.free_port()), "--no-report", env=env, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: cannot write into {runs}") and r.stderr.count("\n") == 1, r.stderr
    assert "BENCH_RUNS_DIR" in r.stderr and "starting the embedded stack" not in r.stdout
    assert not (state / "state.json").exists() and list(runs.iterdir()) == []


@pytest.mark.integration
def test_run_folder_made_unwritable_after_trial_1(tmp_path: Path) -> None:
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state), "BENCH_RUNS_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--workloads", "db", "--variants", "pooled",
                             "--trials", "2", "--duration", "3", "--warmup", "1", "--users", "2",
                             "--processes", "2", "--port", str(procs.free_port()), "--no-report"],
                            cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    run_dir = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            found = [d for d in tmp_path.iterdir() if (d / "results.json").exists()]
            if found and json.loads((found[0] / "results.json").read_text())["results"][0]["trials"]:
                run_dir = found[0]
                break
            time.sleep(0.2)
        assert run_dir is not None, "trial 1 was not recorded"
        with immutable(run_dir):
            out, err = proc.communicate(timeout=180)
            lines = err.strip().splitlines()
            assert proc.returncode == 1 and "Traceback" not in err, err
            assert lines[-1].startswith(f"error: cannot write {run_dir / 'results.json'}"), err
            assert "trial 2 (trials/002-db-pooled) is on disk but not recorded in results.json" in lines[-1]
            assert "kept 1 finished trials" in out
            # What was written is kept; results.json claims no trial it lacks and none that is missing.
            recorded = json.loads((run_dir / "results.json").read_text())["results"][0]["trials"]
            assert [t["seq"] for t in recorded] == [1]
            assert sorted(p.parent.name for p in run_dir.glob("trials/*/trial.json")) == ["001-db-pooled",
                                                                                        "002-db-pooled"]
        assert procs.processes_mentioning(str(state)) == []  # the stack was stopped
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
