"""The web UI's "Per process" tab, /per-process, the per-process CSV files and reset, against the real stack.

Unit tests use the recorder, view and CSV modules directly (they do not import Locust). Integration tests
start Locust with its web UI as a subprocess (`--web-host 127.0.0.1 --web-port FREE`), start tests through
its REST endpoints (`POST /swarm`, `/stop`, `/stats/reset`) against the Apache + PostgreSQL of the
`live_stack` fixture, and compare what `/per-process` and the CSV files say with Apache's access log
(`<end time> <pid> <ka no> <status> ... <cold> <served>`), which no client can distort. The page itself
is opened in headless Chromium (DevTools protocol, as in test_reports_browser.py); a screenshot of the
tab is kept in tests/artifacts/ (gitignored) and its path printed. Everything talks to 127.0.0.1 only;
every wait is bounded.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from chromium import Page, browser
from test_scenarios import _get, _post, master_port_args, run_locust, web_locust

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scenarios"))

from _bench._csv import HISTORY_HEADER, STEADY_HEADER, history_rows, steady_rows  # noqa: E402
from _bench._live import PidCounts, variant_of_name  # noqa: E402
from _bench._perprocess import AGGREGATED, build_view  # noqa: E402
from _bench._recorder import Merger, WindowRecorder  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT = 30.0
USERS = "2"  # = the live stack's processes: with keep-alive, more clients than children would stall


# --------------------------------------------------------------------------- unit


def test_live_counts_merge_and_current_rps_like_locust() -> None:
    a, b = PidCounts(), PidCounts()
    for i in range(100):
        (a if i % 2 else b).add(failed=i % 10 == 0, cold=i == 0, now=1000.0 + i * 0.1, variant="pooled")
    merged = PidCounts.from_wire(json.loads(json.dumps(a.to_wire())))  # survives the trip to the master
    merged.merge(b)
    assert (merged.requests, merged.failures, merged.cold) == (100, 10, 1)
    assert merged.seconds[1000] == [10, 1, 1] and merged.last == pytest.approx(1009.9)
    # Locust's rule: seconds [last - 12, last - 2), not before the start: 1000..1007, 10 each
    assert merged.current_rps(1009.9, start=1000.0) == 10.0
    assert merged.current_rps(1001.0, start=1000.0) == 0.0  # nothing complete yet
    assert variant_of_name("/pool-only/db", ("naive", "pool-only"), ("json",)) == "pool-only"
    assert variant_of_name("/json", ("naive",), ("json",)) == "ceiling"
    assert variant_of_name("/other/thing/x", ("naive",), ("json",)) is None


def _recorded(merger: Merger, gen_of_report: int) -> None:
    rec = WindowRecorder()
    rec.begin(1000.0, warmup_s=2)
    rec.reset_gen = gen_of_report
    rec.record("7", 0.4, False, now=1001.0, cold=True, variant="pooled")  # warm-up: live only
    rec.record("7", 0.5, False, now=1003.0, variant="pooled")
    rec.record("8", 0.6, True, now=1004.5, variant="naive")
    rec.end(1005.0)
    merger.add_report("w", rec.take_report())


def test_view_rows_csv_and_reset() -> None:
    merger = Merger()
    _recorded(merger, 0)
    view = build_view(merger, start=1000.0, warmup_s=2, stop=None, classes=["PooledDb", "NaiveDb"],
                      variants=["pooled", "naive"], generators=1, running=False)  # fmt: skip
    rows = {row["pid"]: row for row in view["rows"]}
    assert list(rows) == ["7", "8", AGGREGATED]
    assert rows["7"]["requests"] == 2 and rows["7"]["steady_requests"] == 1 and rows["7"]["cold"] == 1
    assert rows["8"]["failures"] == 1 and rows["8"]["variants"] == "naive"
    assert view["window"] == [1002.0, 1005.0] and rows[AGGREGATED]["steady_rps"] == round(2 / 3, 1)
    assert view["mixed"] and "MIXED" in view["warning"] and "MIXED" in rows[AGGREGATED]["variants"]
    assert rows[AGGREGATED]["p50_ms"] == 0.505  # the 0.50-0.51 ms bin's midpoint: sub-millisecond resolution
    csv_rows = steady_rows(merger, (1002.0, 1005.0), "pooled")
    assert [r[0] for r in csv_rows] == ["7", "8", AGGREGATED] and len(csv_rows[0]) == len(STEADY_HEADER)
    assert csv_rows[-1][2:4] == [2, 1]
    history = history_rows(merger)
    assert len(history[0]) == len(HISTORY_HEADER)
    assert [(r[0], r[1], r[2]) for r in history] == [
        (1001, "7", 1), (1001, AGGREGATED, 1), (1003, "7", 1), (1003, AGGREGATED, 1),
        (1004, "8", 1), (1004, AGGREGATED, 1),
    ]  # fmt: skip
    assert history[-1][5] == 3  # running total of the Aggregated rows
    # reset: the data goes, the window restarts, and late data stamped before the reset is dropped
    merger.reset(1004.0, gen=1)
    _recorded(merger, 0)
    view = build_view(merger, start=1000.0, warmup_s=2, stop=1005.0, classes=["PooledDb"], variants=["pooled"],
                      generators=1, running=False)  # fmt: skip
    assert [row["pid"] for row in view["rows"]] == [AGGREGATED] and view["rows"][0]["requests"] == 0
    assert view["window"] == [1004.0, 1005.0] and not view["mixed"]
    _recorded(merger, 1)
    assert merger.live["7"].requests == 2


# --------------------------------------------------------------------------- helpers for the real runs


def access_log(live_stack: Any) -> Path:
    return Path(live_stack.state) / "apache" / "access.log"


def log_lines_since(log: Path, offset: int) -> list[tuple[float, str, bool]]:
    """(end time, pid, cold) of every whole line the log gained since `offset`."""
    with open(log, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    out = []
    for line in data[: data.rfind(b"\n") + 1].decode().splitlines():
        parts = line.split()
        if len(parts) >= 10:
            out.append((float(parts[0]), parts[1], parts[8] == "1"))
    return out


def settled_log(log: Path, offset: int, within: float = 10.0) -> list[tuple[float, str, bool]]:
    """The new log lines once the log has stopped growing (Apache writes a line as each request ends)."""
    deadline = time.monotonic() + within
    size = -1
    while log.stat().st_size != size and time.monotonic() < deadline:
        size = log.stat().st_size
        time.sleep(0.5)
    return log_lines_since(log, offset)


def wait_for(predicate: Any, what: str, within: float = TIMEOUT, every: float = 0.25) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def pid_rows(view: dict) -> dict[str, dict]:
    return {row["pid"]: row for row in view["rows"] if row["pid"].isdigit()}


def stop_and_settle(ui: str) -> dict:
    """POST /stop, then the /per-process view once it no longer changes (the workers' last reports are in)."""
    _post(ui + "/stop", [])
    wait_for(lambda: not _get(ui + "/per-process")["running"], "the test to stop")
    previous: list = []

    def stable() -> dict | None:
        view = _get(ui + "/per-process")
        counts = [(r["pid"], r["requests"]) for r in view["rows"]]
        same = counts == previous
        previous[:] = counts
        return view if same else None

    return wait_for(stable, "the per-process figures to settle", every=1.5)


def assert_matches_log(view: dict, lines: list[tuple[float, str, bool]], what: str) -> dict[str, int]:
    """Each Apache process's count in the view is within 1% of its count in the access log, and the requests
    in flight at the window's start (a reset) or stop: logged on one side of it, counted on the other."""
    logged = Counter(pid for _t, pid, _cold in lines)
    rows = pid_rows(view)
    edge = int(USERS)  # one request in flight per user
    counts = {pid: (rows[pid]["requests"] if pid in rows else None, logged[pid]) for pid in set(rows) | set(logged)}
    # a process the view names served; one that served more than the edge is in the view
    assert set(rows) <= set(logged) and {p for p, n in logged.items() if n > edge} <= set(rows), (what, counts)
    for pid, n in logged.items():
        counted = rows[pid]["requests"] if pid in rows else 0
        assert abs(counted - n) <= 0.01 * n + edge, (what, counts)
    total = view["rows"][-1]
    assert total["pid"] == AGGREGATED and total["requests"] == sum(r["requests"] for r in rows.values())
    print(f"{what}: per-process {[(p, r['requests']) for p, r in rows.items()]}, access log {dict(logged)}")
    return dict(logged)


def swarm(ui: str, live_stack: Any, user_class: str = "PooledDb") -> None:
    form = [("user_count", USERS), ("spawn_rate", USERS), ("host", live_stack.url), ("user_classes", user_class)]
    started = _post(ui + "/swarm", form)
    assert started["success"] is True, started


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- Chromium


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with browser(tmp_path_factory.mktemp("chromium-profile"), 1400, 800) as page:
        yield page


def page_problems(page: Page, origin: str) -> list[str]:
    """Console errors, uncaught exceptions, failed loads, and any request that leaves the Locust UI."""
    problems = []
    for event in page.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            problems.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            problems.append(f"log error: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith((origin + "/", "data:")):
                problems.append(f"request outside the UI: {url}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            problems.append(f"load failed: {params.get('errorText')}")
    return problems


TABLE_JS = """
(() => {
  const tabs = [...document.querySelectorAll('[role=tab]')].map(t => t.textContent.trim());
  const heads = [...document.querySelectorAll('table thead th')].map(c => c.textContent.trim());
  const rows = [...document.querySelectorAll('table tbody tr')].map(
    r => [...r.querySelectorAll('td')].map(c => c.textContent.trim()));
  return {tabs, heads, rows};
})()
"""


# --------------------------------------------------------------------------- integration


@pytest.mark.integration
def test_web_ui_tab_route_and_csv_match_the_access_log(live_stack: Any, chromium: Page, tmp_path: Path) -> None:
    log = access_log(live_stack)
    prefix = tmp_path / "run"
    args = ["--host", live_stack.url, "--csv", str(prefix), "--csv-full-history"]
    with web_locust(tmp_path, *args) as (ui, page):
        assert '"extended_tabs": [{"key": "per-process", "title": "Per process"}]' in page
        before = _get(ui + "/per-process")
        assert before["classes"] == [] and before["rows"][-1]["variants"] == "no User class selected yet"
        offset = log.stat().st_size
        swarm(ui, live_stack)
        view = wait_for(lambda: (v := _get(ui + "/per-process")) and len(pid_rows(v)) == 2
                        and all(r["requests"] > 0 for r in pid_rows(v).values()) and v, "a row per Apache process")
        assert view["classes"] == ["PooledDb"] and view["variants"] == ["pooled"] and not view["mixed"]

        # the page, as a person sees it: the tab is there and its table fills while the test runs
        chromium.open(f"{ui}/?tab=per-process")
        seen = wait_for(lambda: (t := chromium.evaluate(TABLE_JS)) and sum(r[0].isdigit() for r in t["rows"]) == 2
                        and t, "the Per process table to fill")  # fmt: skip
        assert "Per process" in seen["tabs"]
        assert seen["heads"][:3] == ["PID", "Variant", "Requests"] and "p99 ms (steady)" in seen["heads"]
        assert seen["rows"][-1][:2] == [AGGREGATED, "pooled (PooledDb)"]
        assert all(float(r[2]) > 0 for r in seen["rows"]), seen["rows"]
        # the table keeps refreshing (Locust's UI polls every 2 s; a busy machine can miss a poll or two)
        wait_for(lambda: int(chromium.evaluate(TABLE_JS)["rows"][-1][2]) > int(seen["rows"][-1][2]),
                 "the Per process table to refresh")
        shot = base64.b64decode(chromium.call("Page.captureScreenshot", {"format": "png"})["data"])
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "locust-per-process-tab.png").write_bytes(shot)
        print(f"screenshot: {ARTIFACTS / 'locust-per-process-tab.png'}")
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
        assert page_problems(chromium, ui) == []

        chromium.open(f"{ui}/per-process/chart")
        chart = chromium.evaluate("({lines: document.querySelectorAll('svg polyline').length, "
                                  "text: document.body.innerText})")  # fmt: skip
        assert chart["lines"] == 2 and "pooled (PooledDb)" in chart["text"], chart
        assert page_problems(chromium, ui) == []

        view = stop_and_settle(ui)
        lines = settled_log(log, offset)
        logged = assert_matches_log(view, lines, "web UI, local runner")
        cold = Counter(pid for _t, pid, is_cold in lines if is_cold)
        assert all(abs(row["cold"] - cold[pid]) <= 1 for pid, row in pid_rows(view).items()), cold
        assert all(r["failures"] == 0 and 0 < r["p50_ms"] <= r["p99_ms"] for r in pid_rows(view).values())

        # the CSV files of the same run (written when the test stopped)
        steady_csv = Path(f"{prefix}_per_process.csv")
        steady = wait_for(lambda: steady_csv.exists() and read_csv(steady_csv), "PREFIX_per_process.csv")
        assert list(steady[0]) == STEADY_HEADER
        by_pid = {row["PID"]: row for row in steady}
        assert set(by_pid) == set(pid_rows(view)) | {AGGREGATED} and set(pid_rows(view)) <= set(logged)
        for pid, row in pid_rows(view).items():
            # no warm-up: the steady window is the whole test until stop; responses that complete while the
            # users stop count in `requests` only, as in Locust's own statistics (on a loaded machine the
            # stop takes long enough for a few requests per user, hence 2% rather than one per user)
            assert int(by_pid[pid]["Request Count"]) == row["steady_requests"]
            assert 0.98 * row["requests"] <= row["steady_requests"] <= row["requests"]
            assert float(by_pid[pid]["50%"]) == row["p50_ms"]
        assert int(by_pid[AGGREGATED]["Request Count"]) == view["rows"][-1]["steady_requests"]
        history = read_csv(Path(f"{prefix}_per_process_history.csv"))
        assert list(history[0]) == HISTORY_HEADER
        for pid, row in pid_rows(view).items():
            assert sum(int(h["Requests/s"]) for h in history if h["PID"] == pid) == row["requests"]
        assert Path(f"{prefix}_stats.csv").exists()  # Locust's own files are still there

        # reset: a second test, reset while it runs; the figures then count from the reset on
        offset = log.stat().st_size
        swarm(ui, live_stack)
        wait_for(lambda: _get(ui + "/per-process")["rows"][-1]["requests"] > 500, "traffic before the reset")
        assert _post_text(ui + "/stats/reset") == "ok"
        after_reset = _get(ui + "/per-process")
        reset_at = after_reset["window"][0]
        wait_for(lambda: _get(ui + "/per-process")["rows"][-1]["requests"] > 2000, "traffic after the reset")
        view = stop_and_settle(ui)
        assert view["window"][0] == reset_at
        lines = [line for line in settled_log(log, offset) if line[0] >= reset_at]
        assert_matches_log(view, lines, "after a reset")


def _post_text(url: str) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10) as response:
        return response.read().decode()


@pytest.mark.integration
def test_distributed_route_merges_the_workers(live_stack: Any, tmp_path: Path) -> None:
    log = access_log(live_stack)
    with web_locust(tmp_path, "--processes", "2", *master_port_args(), "--host", live_stack.url) as (ui, _page):
        wait_for(lambda: _get(ui + "/worker-count")["worker_count"] == 2, "both workers")
        offset = log.stat().st_size
        swarm(ui, live_stack)
        wait_for(lambda: len(pid_rows(_get(ui + "/per-process"))) == 2, "rows merged from the workers")
        time.sleep(4)
        view = stop_and_settle(ui)
        assert view["generators"] == 2
        assert_matches_log(view, settled_log(log, offset), "web UI, 2 worker processes")


@pytest.mark.integration
def test_reset_stats_option_resets_per_process_like_locust(live_stack: Any, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    log = access_log(live_stack)
    offset = log.stat().st_size
    proc = run_locust(
        tmp_path,
        "--headless", "-u", USERS, "-r", "1", "-t", "5s", "--host", live_stack.url, "--reset-stats",
        "--csv", str(prefix), "PooledDb",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = {row["PID"]: row for row in read_csv(Path(f"{prefix}_per_process.csv"))}
    ours_total = int(ours[AGGREGATED]["Request Count"])
    # Locust's final figure is the last "Aggregated" line of its request table (its _stats.csv, written by a
    # periodic greenlet, can miss the last second)
    totals = re.findall(r"^\s*Aggregated\s+(\d+)\s+\d+\(", proc.stderr, re.MULTILINE)
    assert totals, proc.stderr[-3000:]
    locust_total = int(totals[-1])
    served = len(settled_log(log, offset))
    # both reset when spawning completed (1 s into the test): the same count, clearly below what Apache served
    assert abs(ours_total - locust_total) <= 0.01 * locust_total, (ours_total, locust_total)
    assert ours_total < 0.95 * served, (ours_total, served)
    print(f"--reset-stats: per-process {ours_total}, Locust {locust_total}, Apache served {served} in the test")
