"""`bench run --servers mod_python,mod_wsgi` end to end: the servers interleaved in one run, each trial served
by its cell's server, cells and speedups per server, and the report's server comparison."""

import html
import json
from pathlib import Path

import pytest
from conftest import bench_cli, make_state_dir

from bench.stack import procs

pytestmark = [pytest.mark.integration, pytest.mark.slow(105)]

ARGS = ["--servers", "mod_python,mod_wsgi", "--workloads", "db", "--variants", "naive,pooled", "--trials", "1",
        "--duration", "5", "--warmup", "1.5", "--users", "2", "--processes", "2"]
SERVERS = ("mod_python", "mod_wsgi")


@pytest.fixture(scope="module")
def servers_run(tmp_path_factory):
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path_factory.mktemp("runs"))}
    r = bench_cli("run", *ARGS, "--port", str(procs.free_port()), env=env, timeout=400)
    assert r.returncode == 0, r.stderr + r.stdout
    run_dir = sorted(Path(env["BENCH_RUNS_DIR"]).iterdir())[-1]
    return r, run_dir, json.loads((run_dir / "results.json").read_text())


def test_each_cell_runs_under_each_server_interleaved(servers_run):
    _, run_dir, data = servers_run
    assert data["plan"]["servers"] == list(SERVERS)
    assert [(s["variant"], s["server"]) for s in data["plan"]["order"]] == [
        ("naive", "mod_python"), ("naive", "mod_wsgi"), ("pooled", "mod_python"), ("pooled", "mod_wsgi")]
    cells = {(c["variant"], c["server"]): c for c in data["results"]}
    assert set(cells) == {(v, s) for v in ("naive", "pooled") for s in SERVERS}
    for (variant, server), cell in cells.items():
        assert len(cell["trials"]) == 1 and cell["summary"]["rps"] > 0
        t = cell["trials"][0]
        assert t["server_module"] == server and t["dir"].endswith(f"-db-{variant}-{server}")
        assert isinstance(t["server"], dict) and t["server"]["requests"] > 0  # the access-log summary as before
        assert t["locust"]["failures"] == 0
        conf = (run_dir / t["dir"] / "httpd.conf").read_text()
        assert ("WSGIDaemonProcess" in conf) == (server == "mod_wsgi")
        # The PSS of the processes that served: mod_wsgi's daemons, mod_python's children.
        assert cell["summary"]["pss_mb_serving"] > 0 and cell["summary"]["pss_mb_total"] > 0
    for server in SERVERS:
        assert (run_dir / f"httpd-{server}.conf").is_file()
    assert {(s["server"], s["variant"]) for s in data["speedups"]} == {(s, "pooled") for s in SERVERS}
    assert {s["server"] for s in data["cpu_speedups"]} == set(SERVERS)


def test_terminal_table_and_speedups_name_the_server(servers_run):
    r, _, _ = servers_run
    head = next(line for line in r.stdout.splitlines() if line.startswith("workload"))
    assert head.split()[:3] == ["workload", "variant", "server"]
    for server in SERVERS:
        assert f"pooled vs naive on db under {server}:" in r.stdout


def test_report_compares_the_servers(servers_run):
    _, run_dir, data = servers_run
    md = html.unescape((run_dir / "report" / "report.md").read_text())
    assert "## mod_python and mod_wsgi" in md
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    pairs = {(p["variant"], p["server"], p["against"]) for p in summary["servers"]}
    assert pairs == {("naive", "mod_wsgi", "mod_python"), ("pooled", "mod_wsgi", "mod_python")}
    cells = {(c["variant"], c["server"]): c["summary"] for c in data["results"]}
    for p in summary["servers"]:
        expect = cells[(p["variant"], "mod_wsgi")]["rps"] / cells[(p["variant"], "mod_python")]["rps"]
        assert p["rps"]["ratio"] == pytest.approx(expect, rel=1e-6)
    assert (run_dir / "report" / "fig9-servers.png").stat().st_size > 0
