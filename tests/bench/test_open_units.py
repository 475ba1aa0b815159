"""The open model's pieces without a server: thresholds, rates, the SLO search's steps, the accept queue of a
real listening socket, the per-rate table, and the schedule itself (in a gevent subprocess)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import bench_cli

from bench.errors import UserError
from bench.load import accept_queue, offered_rate, slo_search, thresholds
from bench.load.plan import Plan

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


# --- thresholds --------------------------------------------------------------------------------
def test_thresholds_parse_units_and_cells() -> None:
    got = thresholds.parse("p99<50ms, failures=0,rps>1000, db/pooled:p50<=800us, drop_rate<1%, max<2s")
    assert [(t.metric, t.op, t.value, t.cell) for t in got] == [
        ("p99", "<", 50.0, None), ("failures", "=", 0.0, None), ("rps", ">", 1000.0, None),
        ("p50", "<=", 0.8, "db/pooled"), ("drop_rate", "<", 1.0, None), ("max", "<", 2000.0, None)]


@pytest.mark.parametrize("text, named", [
    ("p99<<50ms", "'p99<<50ms'"), ("p98<5", "'p98'"), ("rps>10ms", "'ms'"), ("p99<5kg", "'kg'"),
    ("p99<5,,rps>1", "empty threshold"), ("", "empty")])
def test_malformed_thresholds_are_one_line_naming_the_piece(text: str, named: str) -> None:
    with pytest.raises(UserError) as err:
        thresholds.parse(text)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_evaluate_names_broken_thresholds_and_not_measured_is_broken() -> None:
    g = thresholds.grammar()
    found = thresholds.parse("p99<50ms,failures=0,rps>100")
    broken = g.evaluate(found, {"p99_ms": 812.4, "failures": 0, "rps": 150, "requests": 10})
    assert [g.describe(b) for b in broken] == ["p99<50ms broken: 812.4 ms"]
    assert [b[0].metric for b in g.evaluate(found, {"failures": 0, "rps": 150})] == ["p99"]  # None: broken
    assert g.evaluate(found, {"p99_ms": 3.0, "failures": 0, "rps": 150}) == []


def test_bench_evaluates_per_cell_on_the_open_rows_first() -> None:
    data = {"results": [{"workload": "db", "variant": "naive", "trials": [{"open": {"rate": 300, "failures": 0,
                                                                                   "requests": 500}}]}],
            "offered_rate": [{"workload": "db", "variant": "naive", "rate": 300, "p99_ms": 6000.0, "rps": 55,
                              "offered": 3000, "dropped": 900, "late": 400}]}
    lines = thresholds.evaluate(thresholds.parse("p99<50ms,drop_rate<1%,failures=0"), data)
    assert lines == ["p99<50ms broken in db/naive at 300 req/s (open model, latency from intended start): 6000 ms",
                     "drop_rate<1% broken in db/naive at 300 req/s (open model, latency from intended start): 30%"]
    assert thresholds.evaluate(thresholds.parse("db/pooled:p99<5ms"), data) == [
        "db/pooled:p99<5ms broken: the run has no cell db/pooled"]


@pytest.mark.integration
def test_bench_run_refuses_a_malformed_threshold_before_anything_starts() -> None:
    done = bench_cli("run", "--fail-on", "p99<=fast", "--workloads", "db", timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "'p99<=fast'" in done.stderr
    assert "Traceback" not in done.stderr


# --- rates and the plan ------------------------------------------------------------------------
def test_rates_parse_and_refuse() -> None:
    assert offered_rate.parse_rates("300") == [300.0]
    assert offered_rate.parse_rates("100, 200,100") == [100.0, 200.0]
    for bad in ("abc", "0", "-5", "inf", ","):
        with pytest.raises(UserError):
            offered_rate.parse_rates(bad)
    with pytest.raises(UserError, match="constant or poisson"):
        offered_rate.check_arrival("burst")


def test_plan_interleaves_rates_and_names_them_in_the_trial_folder() -> None:
    from bench.load.trial import trial_dir

    plan = Plan(workloads=["db"], variants=["naive", "pooled"], trials=2, rates=[100, 200]).validate()
    assert [(s.trial, s.variant, s.rate) for s in plan.order][:4] == [
        (1, "naive", 100), (1, "naive", 200), (1, "pooled", 100), (1, "pooled", 200)]
    assert trial_dir(plan.order[1]) == "trials/002-db-naive-r200"
    with pytest.raises(UserError, match="one Locust process"):
        Plan(rates=[100], locust_processes=2).validate()


def test_verdict_tells_the_generator_from_the_server() -> None:
    ok = {"rate": 300, "rps": 299, "dropped": 0, "unfinished": 1, "connections": 4, "late": 0}
    assert offered_rate.verdict(ok, "load") == (True, None)
    met, why = offered_rate.verdict({**ok, "rps": 56, "unfinished": 2000}, "server")
    assert not met and why.startswith("the server did not keep up with 300 req/s")
    met, why = offered_rate.verdict({**ok, "generator_behind": True, "generator_reason": "late"}, "load")
    assert not met and why.startswith("the generator could not offer this rate (300 req/s)")
    # 12 of 13 requests in a 1.5 s window at 8.85 req/s (92%): one request off at an edge, not a miss
    few = {"rate": 8.85, "rps": 8.0, "requests": 12, "dropped": 0, "unfinished": 0, "connections": 2}
    assert offered_rate.verdict(few, "load") == (True, None)
    assert offered_rate.verdict({**few, "rps": 6.67, "requests": 10}, "load")[0] is False  # 3 short: a miss


def test_table_is_per_cell_and_rate() -> None:
    def trial(rate, p99, rps):
        return {"open": {"rate": rate, "p99_ms": p99, "rps": rps, "offered": 10 * rate, "dropped": 0, "late": 0,
                         "unfinished": 0, "connections": 4, "arrival": "constant"},
                "server": {"p99_ms": 1.0}, "bottleneck": {"bottleneck": "load"}, "slots": 4}
    results = [{"workload": "db", "variant": "pooled", "trials": [trial(100, 2.0, 100), trial(200, 9.0, 199),
                                                                  trial(100, 4.0, 100)]}]
    rows = offered_rate.table(results)
    assert [(r["rate"], r["trials"], r["p99_ms"], r["met"]) for r in rows] == [(100, 2, 3.0, True),
                                                                               (200, 1, 9.0, True)]


# --- the SLO search's steps --------------------------------------------------------------------
def test_slo_search_doubles_then_bisects_and_stops() -> None:
    probes = [{"rate": 50.0, "met": True}]
    assert slo_search.next_rate(probes) == 100.0
    probes += [{"rate": 100.0, "met": True}, {"rate": 200.0, "met": False}]
    assert slo_search.next_rate(probes) == 150.0
    probes += [{"rate": 150.0, "met": False}, {"rate": 125.0, "met": True}, {"rate": 137.5, "met": True}]
    assert slo_search.next_rate(probes) is None  # 137.5 and 150 within 10%
    # a rate the generator could not offer bounds the bisection like a broken one
    assert slo_search.next_rate([{"rate": 40.0, "met": True}, {"rate": 80.0, "met": False, "generator": True}]) == 60.0
    assert slo_search.next_rate([{"rate": 8.0, "met": False}]) is None  # below the smallest rate


def test_slo_judge_uses_the_slo_and_the_rate() -> None:
    slo = thresholds.parse("p99<50ms")
    good = {"rate": 100, "rps": 100, "dropped": 0, "unfinished": 0, "connections": 4, "p99_ms": 10.0}
    assert slo_search.judge(slo, good, "load") == (True, None, False)
    met, why, _ = slo_search.judge(slo, {**good, "p99_ms": 80.0}, "load")
    assert not met and why == "p99<50ms broken: 80 ms"
    assert slo_search.judge(slo, {**good, "generator_behind": True}, "load")[2] is True
    with pytest.raises(UserError, match="add --saturate"):
        slo_search.check_slo("p99<50ms", saturate=False)


# --- the accept queue of a real listening socket -----------------------------------------------
def test_accept_queue_counts_connections_not_yet_accepted(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    clients = []
    try:
        assert accept_queue.listen_queue(port) == 0
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", port))
            clients.append(c)
        deadline = time.monotonic() + 2
        while accept_queue.listen_queue(port) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert accept_queue.listen_queue(port) == 3
        assert accept_queue.proc_listen_queue(port) == 3  # the fallback without ss agrees
        sampler = accept_queue.AcceptQueueSampler(port, tmp_path / "q.jsonl", interval_s=0.01).start()
        deadline = time.monotonic() + 10
        while len(accept_queue.read_samples(tmp_path / "q.jsonl")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.accept()[0].close()
        while accept_queue.read_samples(tmp_path / "q.jsonl")[-1]["queue"] != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        sampler.stop()
        samples = accept_queue.read_samples(tmp_path / "q.jsonl")
        s = accept_queue.summary(samples, 0, time.time() + 1)
        assert s["max"] == 3 and samples[-1]["queue"] == 2 and s["samples"] >= 3
    finally:
        for c in clients:
            c.close()
        server.close()
    assert accept_queue.listen_queue(port) is None and accept_queue.proc_listen_queue(port) is None


@pytest.mark.integration
def test_accept_queue_pacing_ignores_another_child_reaped_during_a_read(tmp_path: Path, monkeypatch) -> None:
    # The sampler waits 10x the CPU a read used, children included (`ss`). A child of the same process reaped
    # during a read (Locust, at a trial's end) adds all its CPU to the children's: without the cap by the
    # read's wall time, its 0.5 s would stall the sampler for 5 s.
    import os

    burner = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\n"
                               "while time.process_time() - t < 0.5: pass"])
    os.waitid(os.P_PID, burner.pid, os.WEXITED | os.WNOWAIT)  # it has exited, not yet reaped

    def listen_queue(port: int) -> int:
        burner.poll()  # the first read reaps it
        return 1

    monkeypatch.setattr(accept_queue, "listen_queue", listen_queue)
    sampler = accept_queue.AcceptQueueSampler(0, tmp_path / "q.jsonl", interval_s=0.01).start()
    time.sleep(1.0)
    sampler.stop()
    assert burner.returncode == 0
    assert len(accept_queue.read_samples(tmp_path / "q.jsonl")) >= 5


def test_queue_time_is_client_minus_server() -> None:
    assert accept_queue.queue_time({"p50_ms": 220.0, "p99_ms": 500.0}, {"p50_ms": 60.0, "p99_ms": None}) == {
        "from": "client latency minus %D", "p50_ms": 160.0, "p99_ms": None}


# --- the schedule, in a gevent process (this test process must not be gevent-patched) ------------
SCHEDULE = """
import sys, time, json, gevent
sys.path.insert(0, {scenarios!r})
from _bench import _open as o
t0 = time.time()
s = o.Schedule(200.0, {arrival!r}, t0, 0.0, 1, "/x")
s.backlog = 50
s.queue = o.Queue(maxsize=50)
g = gevent.spawn(s.run)
def consumer():  # one slow connection: 20 answers a second
    while True:
        it = s.take(); s.sent(it, time.time()); gevent.sleep(0.05); s.done(it, time.time(), False)
c = gevent.spawn(consumer)
gevent.sleep(1.0)
s.stop = time.time(); g.kill(); c.kill()
out = s.summary(); out.pop("hdr")
print(json.dumps(out))
"""


@pytest.mark.integration
@pytest.mark.parametrize("arrival", ["constant", "poisson"])
def test_schedule_offers_on_time_and_counts_what_it_could_not_start(arrival: str) -> None:
    code = SCHEDULE.format(scenarios=str(SCENARIOS), arrival=arrival)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout.strip().splitlines()[-1])
    assert 150 <= s["offered"] <= 250  # about 200 in one second
    assert 10 <= s["requests"] <= 22  # the one connection's pace (at most 20 of 50 ms in 1 s; fewer when busy)
    assert s["dropped"] >= s["offered"] - s["requests"] - 50 - 2  # the rest beyond the backlog of 50 dropped
    assert s["late"] >= s["requests"] - 2  # every answer after the first waited for the connection
    assert s["p99_ms"] > 500  # from the intended start: the wait counts
    assert s["model"] == "open" and s["latency_from"] == "intended start" and s["arrival"] == arrival


class _FakeCell:
    """search_cell's context with a server of a known capacity: the SLO holds up to `capacity` req/s and the
    generator can offer up to `ceiling` (the trial records bench.load.trial would write, reduced to their keys)."""

    def __init__(self, capacity: float, ceiling: float):
        self.capacity, self.ceiling, self.rates = capacity, ceiling, []

    def log(self, _text: str) -> None:
        pass

    def trial(self, step: dict, rel: str | None = None, users: int | None = None) -> dict:
        rate = step.get("rate")
        base = {"users": 4, "dir": rel, "slots": 2, "locust": {"rps": 100.0, "p99_ms": 5.0}, "server": {"rps": 100.0}}
        if rate is None:
            return base | {"bottleneck": {"bottleneck": "server"}}
        self.rates.append(rate)
        behind = rate > self.ceiling
        return base | {"bottleneck": {"bottleneck": "generator" if behind else "load"},
                       "open": {"rate": rate, "offered_rps": rate, "rps": min(rate, self.ceiling), "dropped": 0,
                                "late": 0, "p99_ms": 10.0 if rate <= self.capacity else 900.0,
                                "generator_behind": behind, "requests": 1000, "failures": 0}}


def test_slo_search_bisects_below_the_generators_ceiling_and_says_at_least() -> None:
    # the server meets the SLO at any rate; the generator offers up to 130: the capacity is "at least" ~130
    cell = _FakeCell(capacity=1e9, ceiling=130.0)
    entry = slo_search.search_cell(cell, "db", "pooled", None, "p99<50ms")
    assert cell.rates[:3] == [50.0, 100.0, 200.0] and 200.0 in cell.rates
    assert 100 < entry["capacity_rps"] <= 130 and entry["stopped"] and "generator" in entry["stopped"]
    assert "at least" in slo_search.summary_line(entry)
    # the server breaks the SLO at 120, under the generator's ceiling: a capacity, not a bound
    entry = slo_search.search_cell(_FakeCell(capacity=120.0, ceiling=130.0), "db", "pooled", None, "p99<50ms")
    assert 100 <= entry["capacity_rps"] <= 120 and entry["stopped"] is None
    assert "at least" not in slo_search.summary_line(entry)
