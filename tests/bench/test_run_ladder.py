"""`bench run` without --users: each cell's users are chosen by a short ladder before its trials (bench/load/ladder.py),
its probes kept in the run folder and the trials run at the users it chose."""

import json
from pathlib import Path

import pytest
from conftest import bench_cli, make_state_dir

from bench.load import ladder
from bench.record.ladder import LadderCell, Stop
from bench.stack import procs

pytestmark = pytest.mark.integration


@pytest.mark.slow(60)
def test_a_run_without_users_climbs_a_ladder_and_runs_its_trials_there(tmp_path):
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    r = bench_cli("run", "--workloads", "db", "--variants", "pooled", "--trials", "1", "--duration", "4",
                  "--warmup", "1", "--processes", "8", "--no-report", "--port", str(procs.free_port()),
                  env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    run_dir = next(Path(tmp_path).iterdir())
    data = json.loads((run_dir / "results.json").read_text())
    cells = LadderCell.all_of(data)
    assert [c.name for c in cells] == ["db/pooled"]
    cell = cells[0]
    assert cell.stop in {s.value for s in Stop} and cell.reason
    # prefork with keep-alive: the ladder's top is the 8 processes (ladder.top_users)
    assert [p.users for p in cell.probes] == ladder.rungs(4, 8)[:len(cell.probes)]
    assert cell.users in [p.users for p in cell.probes]
    for p in cell.probes:  # each rung's raw files beside its summary
        trial = json.loads((run_dir / str(p.dir) / "trial.json").read_text())
        assert trial["users"] == p.users and p.rps and p.rps > 0 and p.server_util is not None
    assert [t["users"] for c in data["results"] for t in c["trials"]] == [cell.users]
    assert "ladder db/pooled: users from 4 up to 8" in r.stdout and "    probe 4 users: " in r.stdout
    assert f"db/pooled: {cell.users} users ({cell.stop}: " in r.stdout
