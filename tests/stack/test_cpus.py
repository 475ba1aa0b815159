"""Issue 8 item 1: the server and the load generator on disjoint CPUs; CPU lists checked before anything starts."""

import os
import time

import psycopg2
import pytest
from conftest import bench_cli, get, make_state_dir, remove_state_dir

from bench.errors import UserError
from bench.load.locust_runner import LocustProcess, command
from bench.load.plan import Plan
from bench.stack import cpus, procs

FOUR = frozenset({0, 1, 2, 3})


@pytest.mark.parametrize("text,expected", [
    ("0", {0}), ("0-2,5", None), ("3", {3}), ("0,1", {0, 1}), ("1-3", {1, 2, 3}), (" 0 , 2 ", {0, 2}),
    ("0-0", {0}), ("2,2", {2}),
])
def test_parse_cpu_lists(text, expected):
    allowed = frozenset(range(8))
    assert cpus.parse_cpus(text, allowed=allowed) == (expected or {0, 1, 2, 5})


@pytest.mark.parametrize("text,message", [
    ("a", "'a' is not a number or range"),
    ("1-0", "'1-0' is not an increasing range"),
    ("", "is empty"),
    ("  ", "is empty"),
    ("0,,1", "'' is not a number or range"),
    ("-1", "'-1' is not a number or range"),
    ("0-", "'0-' is not a number or range"),
    ("7", "CPU 7 is not online or not allowed here (available: 0-3)"),
    ("2-9", "CPU 4-9 is not online or not allowed here (available: 0-3)"),
])
def test_bad_cpu_lists(text, message):
    with pytest.raises(UserError, match="--server-cpus") as err:
        cpus.parse_cpus(text, allowed=FOUR)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("cpus_allowed,args,server,generator", [
    ({0, 1}, {}, {0}, {1}),                       # 2 CPUs: one each
    ({0, 1, 2, 3}, {}, {0, 1, 2}, {3}),            # all but the last for the server
    ({2, 5, 7}, {}, {2, 5}, {7}),                  # a cpuset with holes
    ({0}, {}, None, None),                         # one CPU: nothing to partition
    ({0, 1, 2, 3}, {"no_partition": True}, None, None),
    ({0, 1, 2, 3}, {"server": "0-1", "generator": "3"}, {0, 1}, {3}),
    ({0, 1, 2, 3}, {"server": "0"}, {0}, {1, 2, 3}),
    ({0, 1, 2, 3}, {"generator": "2"}, {0, 1, 3}, {2}),
])
def test_partition(cpus_allowed, args, server, generator):
    p = cpus.partition(allowed=frozenset(cpus_allowed), **args)
    assert p.server == (frozenset(server) if server else None)
    assert p.generator == (frozenset(generator) if generator else None)
    if server and generator:
        assert not p.server & p.generator


@pytest.mark.parametrize("args,message", [
    ({"server": "0-1", "generator": "1-2"}, "overlap on CPU 1"),
    ({"no_partition": True, "server": "0"}, "--no-partition cannot be combined"),
    ({"generator": "0-3"}, "leaves no CPU for the server"),
])
def test_bad_partitions(args, message):
    with pytest.raises(UserError, match=message):
        cpus.partition(allowed=FOUR, **args)


def test_format_cpus():
    assert cpus.format_cpus(frozenset({0, 1, 2, 5, 7, 8})) == "0-2,5,7-8"
    assert cpus.format_cpus(frozenset({3})) == "3"


@pytest.mark.integration
@pytest.mark.parametrize("command_,args,message", [
    ("up", ["--server-cpus", "a"], "--server-cpus 'a' is not a CPU list"),
    ("up", ["--server-cpus", "1-0"], "not an increasing range"),
    ("up", ["--server-cpus", ""], "--server-cpus is empty"),
    ("up", ["--server-cpus", "4096"], "CPU 4096 is not online or not allowed here"),
    ("run", ["--server-cpus", "0", "--generator-cpus", "0"], "overlap on CPU 0"),
    ("tune", ["--no-partition", "--generator-cpus", "0"], "--no-partition cannot be combined"),
])
def test_bad_cpu_options_are_one_line_errors_before_anything_starts(command_, args, message, tmp_path):
    state = make_state_dir()
    r = bench_cli(command_, *args, "--port", str(procs.free_port()),
                  env={"BENCH_STATE_DIR": str(state), "BENCH_RUNS_DIR": str(tmp_path)}, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr
    assert procs.processes_mentioning(str(state)) == [] and list(tmp_path.iterdir()) == []
    remove_state_dir(state)


needs_two = pytest.mark.skipif(len(cpus.available()) < 2, reason="needs 2 CPUs to partition")


@needs_two
def test_every_server_process_is_on_the_server_cpus(live_stack):
    server = cpus.parse_cpus(live_stack.settings.server_cpus)
    assert server == cpus.partition().server
    for _ in range(8):
        get(live_stack.url + "/pooled/db", headers={"Connection": "close"})
        get(live_stack.url + "/naive/db")
    extra = [psycopg2.connect(live_stack.dsn) for _ in range(3)]  # a few more backends
    try:
        apache = live_stack.apache.processes()
        pg = live_stack.pg.processes()
        assert len(apache) == 1 + live_stack.settings.processes
        assert len(pg) >= 5 + 3  # postmaster, its workers, and at least our 3 backends
        for pid in apache + pg:
            assert set(os.sched_getaffinity(pid)) <= server, pid
    finally:
        for c in extra:
            c.close()


@needs_two
def test_locust_runs_on_the_generator_cpus(live_stack, tmp_path):
    generator = cpus.partition().generator
    plan = Plan(workloads=["db"], variants=["pooled"], users=1, duration_s=20, warmup_s=1, trials=1,
                locust_processes=2).validate()
    proc = LocustProcess(command(plan, live_stack.url, "db", "pooled", tmp_path), tmp_path / "locust.log",
                         cpus=generator)
    try:
        deadline = time.monotonic() + 30
        while len(cpus.family(proc.pid)) < 3 and time.monotonic() < deadline:  # master + 2 workers
            time.sleep(0.2)
        family = cpus.family(proc.pid)
        assert len(family) >= 3, (tmp_path / "locust.log").read_text()
        for pid in family:
            assert set(os.sched_getaffinity(pid)) <= generator, pid
        proc.check_cpus()
    finally:
        proc.stop()
