"""The ladder's stop rule (bench/load/ladder.py) on recorded figures, its records, and the headline that follows
what limited each cell (bench/console.py `headline`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.console import headline, probe_line
from bench.load import ladder
from bench.record.ladder import LadderCell, Probe, Stop
from bench.record.run_rows import Speedup


def _probe(users: int, rps: float, p99: float = 5.0, server: float = 0.5, busiest: float = 0.3,
           bottleneck: str = "load") -> Probe:
    return Probe(users=users, rps=rps, p99_ms=p99, server_util=server, generator_busiest=busiest,
                 generator_util=busiest, bottleneck=bottleneck, dir=f"ladder/db-pooled-u{users:03d}")


def test_the_rungs_double_up_to_the_top():
    assert ladder.rungs(4, 32) == [4, 8, 16, 32]
    assert ladder.rungs(64, 32) == [32]


def test_a_busy_server_stops_at_that_load():
    probes = [_probe(4, 3000, server=0.80), _probe(8, 4000, server=0.96, bottleneck="server")]
    assert ladder.stop_rule(probes, 100) == (Stop.SERVER, "server CPUs 96% busy at 8 users", 8)


def test_server_cpus_filled_by_other_processes_stop_too():
    busy = Probe(users=4, rps=2000.0, p99_ms=5.0, server_util=0.47, server_set_util=0.96, generator_busiest=0.4)
    assert ladder.stop_rule([busy], 100) == (
        Stop.SERVER, "server CPUs 96% busy at 4 users (47% by the server, the rest by other processes)", 4)


def test_server_at_90_percent_is_not_yet_full():
    assert ladder.stop_rule([_probe(4, 3000, server=0.93, bottleneck="server")], 100) is None


def test_a_full_generator_stops_at_that_load():
    stop, reason, users = ladder.stop_rule([_probe(4, 3000), _probe(8, 5000, busiest=0.97)], 100)
    assert (stop, users) == (Stop.GENERATOR, 8)
    assert "97% of a core" in reason


def test_p99_past_the_ceiling_goes_back_one_rung():
    stop, reason, users = ladder.stop_rule([_probe(4, 3000), _probe(8, 3100, p99=150.0)], 100)
    assert (stop, users) == (Stop.P99, 4)
    assert reason == "p99 150.0 ms at 8 users passed --max-p99 100 ms"


def test_p99_past_the_ceiling_on_the_first_rung_keeps_it():
    assert ladder.stop_rule([_probe(4, 3000, p99=150.0)], 100)[::2] == (Stop.P99, 4)


def test_no_gain_from_doubling_goes_back_one_rung():
    # users above the prefork processes with keep-alive: the extra connections wait for a child, nothing gained
    stop, _, users = ladder.stop_rule([_probe(4, 4206), _probe(8, 3854)], 100)
    assert (stop, users) == (Stop.PLATEAU, 4)


def test_the_top_of_the_ladder_stops_it():
    probes = [_probe(u, 1000.0 * u) for u in (4, 8, 16, 32)]
    assert ladder.stop_rule(probes[:3], 100) is None
    assert ladder.stop_rule(probes, 100) == (Stop.MAX_USERS, "reached 32 users, the top of the ladder", 32)


def test_prefork_with_keep_alive_tops_the_ladder_at_the_processes():
    # each child holds one keep-alive connection: more users than processes only wait in the listen backlog
    assert ladder.top_users("prefork", 4, keepalive=True, connection_close=False) == 4
    assert ladder.rungs(4, 4) == [4] and ladder.rungs(4, 2) == [2]
    assert ladder.stop_rule([_probe(4, 4206)], 100, max_users=4) == (
        Stop.MAX_USERS, "4 users on 4 prefork processes with keep-alive: more would wait in the listen backlog", 4)
    for mpm, keepalive, close in (("event", True, False), ("prefork", False, False), ("prefork", True, True)):
        assert ladder.top_users(mpm, 4, keepalive, close) == ladder.MAX_USERS


def test_a_ladder_cell_reads_back_what_it_wrote():
    cell = LadderCell(workload="db", variant="pooled", probes=(_probe(4, 4206.0), _probe(8, 3854.0)),
                      stop="plateau", reason="no gain", users=4)
    again = LadderCell.all_of({"ladder": [cell.to_json()]})
    assert again == [cell] and again[0].probes[1].rps == 3854.0 and again[0].name == "db/pooled"
    assert LadderCell.all_of({}) == []


def test_the_probe_line_says_what_the_rung_reached():
    assert probe_line(_probe(8, 3854.0, p99=7.54, server=0.8, busiest=0.74)) == (
        "    probe 8 users: 3,854 req/s, p99 7.54 ms, server CPUs 80% busy, busiest Locust process 74% of a core")


def _speedup(ratio: float, labels: dict[str, str] | None, text: str | None = None) -> Speedup:
    return Speedup(workload="db", variant="pooled", baseline="naive", ratio=ratio, ci95=(ratio - 1, ratio + 1),
                   bottlenecks=labels, text=text)


def test_generator_bound_leads_with_the_ratio_per_server_cpu_second():
    s = _speedup(33.36, {"pooled": "generator", "naive": "server"},
                 "at least 33.36x (pooled limited by the generator)")
    text = headline(s, _speedup(38.0, None))
    assert text.startswith("38.00x per server CPU-second (95% CI 37.00-39.00); closed loop at least 33.36x")
    assert text.endswith("bound by the generator (Locust)")


def test_a_ladder_that_found_no_gain_leads_with_the_ratio_per_server_cpu_second():
    s = _speedup(24.22, {"pooled": "load", "naive": "server"}, "at least 24.22x (pooled limited by too few users)")
    climbed = LadderCell(workload="db", variant="pooled", stop="plateau", reason="8 users raised requests/s by -8.4%")
    text = headline(s, _speedup(35.06, None), climbed)
    assert text.startswith("35.06x per server CPU-second (95% CI 34.06-36.06); closed loop at least 24.22x (95% CI")
    assert "too few users" not in text
    assert text.endswith("bound by the closed loop (plateau: 8 users raised requests/s by -8.4%)")


def test_both_server_bound_is_the_capacity_ratio_without_at_least():
    s = _speedup(44.2, {"pooled": "server", "naive": "server"}, "44.20x")
    text = headline(s, _speedup(45.0, None))
    assert text == ("44.20x (95% CI 43.20-45.20), capacity ratio (both cells server-bound); "
                    "per server CPU-second 45.00x")
    assert "at least" not in text


@pytest.mark.parametrize("labels", [{"pooled": "load", "naive": "server"}, None])
def test_too_few_users_keeps_the_closed_loop_ratio_first(labels):
    s = _speedup(33.36, labels, "at least 33.36x (pooled limited by too few users)" if labels else None)
    assert headline(s, _speedup(38.0, None)).startswith(s.text or "33.36x")


def test_only_the_session_users_keep_a_cookie_jar():
    """The generator's own overhead: Locust's cookie jar is skipped where no handler sets a cookie."""
    # as tests/scenarios import it: the scenarios folder on the path (a locustfile's own view of the package)
    scenarios = str(Path(__file__).resolve().parents[2] / "scenarios")
    if scenarios not in sys.path:
        sys.path.insert(0, scenarios)
    from _bench import _users

    assert _users.BenchUser.keeps_cookies is False
    assert _users.build_session_user("process", __name__).keeps_cookies is True
    assert _users._media_type_of("Text/HTML; charset=utf-8") == "text/html"
