"""--app-variant on the real stack (mod_wsgi daemon mode): each variant's environment is in its own daemons'
os.environ before the application is imported, the variants run in different processes, and `bench run` measures
each as its own cell, interleaved, with the 2x2 split of the all-kept over the none-kept on the console. The
application is a stdlib WSGI file: no Django, no network."""

import json
import urllib.request
from pathlib import Path

import pytest
from conftest import bench_cli, make_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration

# Read at import, as Django reads DJANGO_SETTINGS_MODULE: a SetEnv alone would never reach it.
APP = '''import os
CHOSEN = os.environ.get("BENCH_TEST_CHOICE", "unset")


def application(environ, start_response):
    mine = environ.get("SCRIPT_NAME", "").rsplit("/", 1)[-1]
    status = "200 OK" if CHOSEN == "settings_" + mine else "500 Wrong settings"
    body = ("%s %s %d" % (environ.get("SCRIPT_NAME"), CHOSEN, os.getpid())).encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''
NAMES = {"naive": "", "conn": "connection", "tpl": "template", "both": "connection,template"}
VARIANTS = [x for name, kept in NAMES.items()
            for x in ("--app-variant", f"{name}[{kept}]:BENCH_TEST_CHOICE=settings_{name},OTHER=1")]


def make_app() -> Path:
    app = make_state_dir() / "envapp"  # /var/tmp, readable by the server's user
    app.mkdir()
    (app / "app.wsgi").write_text(APP)
    app.chmod(0o755)
    (app / "app.wsgi").chmod(0o644)
    return app


def env_for(tmp_path: Path) -> dict:
    return {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path / "runs")}


def test_each_variant_imports_the_application_with_its_own_environment_in_its_own_processes(tmp_path):
    env, port = env_for(tmp_path), procs.free_port()
    r = bench_cli("up", "--app", str(make_app()), "--app-wsgi", "app.wsgi", "--paths", "/", *VARIANTS,
                  "--server", "mod_wsgi", "--processes", "2", "--port", str(port), env=env, timeout=180)
    try:
        assert r.returncode == 0, r.stderr + r.stdout
        pids: dict[str, set[str]] = {}
        for name in NAMES:
            assert f"http://127.0.0.1:{port}/{name}/" in r.stdout
            for _ in range(6):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/{name}/", timeout=10) as resp:
                    script, chosen, pid = resp.read().decode().split()
                    assert resp.headers["X-Bench-Pid"] == pid
                assert (script, chosen) == (f"/{name}", f"settings_{name}")
                pids.setdefault(name, set()).add(pid)
        every = [p for group in pids.values() for p in group]
        assert len(every) == len(set(every))  # no process served two variants
    finally:
        down = bench_cli("down", env=env, timeout=120)
    assert down.returncode == 0 and not procs.port_in_use(port)


@pytest.mark.slow(45)
def test_a_run_measures_each_variant_as_its_cell_and_splits_the_speedup(tmp_path):
    env = env_for(tmp_path)
    r = bench_cli("run", "--app", str(make_app()), "--app-wsgi", "app.wsgi", "--paths", "/", *VARIANTS,
                  "--server", "mod_wsgi", "--quick", "--trials", "2", "--duration", "2", "--warmup", "1",
                  "--users", "2", "--processes", "2", "--no-report", "--port", str(procs.free_port()),
                  env=env, timeout=400)
    assert r.returncode == 0, r.stderr + r.stdout
    (run_dir,) = Path(env["BENCH_RUNS_DIR"]).iterdir()
    data = json.loads((run_dir / "results.json").read_text())
    assert [c["variant"] for c in data["results"]] == list(NAMES)
    order = [(s["trial"], s["variant"]) for s in data["plan"]["order"]]
    assert sorted(v for t, v in order if t == 1) == sorted(NAMES)  # every round has each variant
    pids = {}
    for cell in data["results"]:
        assert cell["workload"] == "app" and len(cell["trials"]) == 2
        for t in cell["trials"]:
            # 200 only when the daemon imported the application with this variant's settings
            assert t["server"]["status"].get("200", 0) == t["server"]["requests"] > 0
            pids.setdefault(cell["variant"], set()).update(p["pid"] for p in t["server"]["per_process"])
    every = [p for group in pids.values() for p in group]
    assert len(every) == len(set(every))
    assert {s["baseline"] for s in data["speedups"]} == {"naive"}
    assert {s["variant"] for s in data["speedups"]} == {"conn", "tpl", "both"}
    assert "both vs naive on app" in r.stdout
    assert "2x2 split of both vs naive" in r.stdout and "pooling" in r.stdout and "template caching" in r.stdout
