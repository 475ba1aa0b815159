"""`bench up --server mod_wsgi --threads 4` through the real CLI: the generated httpd.conf runs 4 threads per
daemon with a pool that holds one connection per thread, the relaying prefork children have a slot per
daemon thread, and the pooled endpoints answer 200 on the real Apache and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from conftest import bench_cli, get, make_state_dir, remove_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration


def test_bench_up_mod_wsgi_threads_writes_and_serves_them() -> None:
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state)}
    port = procs.free_port()
    try:
        r = bench_cli("up", "--server", "mod_wsgi", "--threads", "4", "--processes", "2", "--port", str(port),
                      env=env, timeout=180)
        assert r.returncode == 0, r.stderr
        conf = (state / "apache" / "httpd.conf").read_text()
        daemon = re.search(r"^WSGIDaemonProcess bench processes=(\d+) threads=(\d+)\b", conf, re.M)
        assert daemon is not None, conf
        assert daemon.groups() == ("2", "4")
        # Each daemon's pool holds a connection per thread (pool_per_process = max(--pool-size 1, 4)).
        assert re.search(r"^SetEnv bench\.threads 4$", conf, re.M) and re.search(r"^SetEnv bench\.pool_size 4$",
                                                                                 conf, re.M)
        assert re.search(r"^MaxRequestWorkers 8$", conf, re.M)  # 2 x 4 relaying slots under prefork
        for path in ("/pooled/db", "/pooled/fortunes"):
            status, headers, body = get(f"http://127.0.0.1:{port}{path}")
            assert status == 200, (path, body[:300])
            assert headers.get("X-Bench-Pid"), path  # served by a daemon, which says so
    finally:
        down = bench_cli("down", env=env, timeout=120)
        remove_state_dir(state)
    assert down.returncode == 0, down.stderr
    assert procs.processes_mentioning(str(state)) == []
