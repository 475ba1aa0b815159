"""The per-process routes of the web UI (`scenarios/_bench/_webui.py`) live under Locust's --web-base-path, as
Locust's own routes do (a Locust behind a reverse proxy at /locust/)."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import REPO

from bench.stack import procs

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:  # not listening yet
        return 0, b""


def test_per_process_routes_honour_the_web_base_path(tmp_path):
    port = procs.free_port()
    log = open(tmp_path / "locust.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "locust", "-f", "scenarios", "--web-host", "127.0.0.1",
                             "--web-port", str(port), "--web-base-path", "/lt", "--host", "http://127.0.0.1:9",
                             "PooledDb"], cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(f"{base}/lt/")[0] != 200:
            assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "locust.log").read_text()
            time.sleep(0.3)
        status, body = _get(f"{base}/lt/per-process")
        assert status == 200 and "rows" in json.loads(body)
        assert _get(f"{base}/lt/per-process/csv")[0] == 200
        assert _get(f"{base}/lt/per-process/chart")[0] == 200
        assert _get(f"{base}/per-process")[0] == 404  # not beside the base path any more
        stats = json.loads(_get(f"{base}/lt/stats/requests")[1])
        assert stats["extended_stats"][0]["key"] == "per-process"  # the tab's rows still ride along
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
