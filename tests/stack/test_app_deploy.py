"""--app-conf and --app-data through the real `bench` command: bad input is one line, exit 1, nothing started
and nothing left (the data folder's ownership as it was); a fragment `apache2 -t` rejects names Apache's first
error line; a good fragment and a data folder serve a run, and the folder is given back at the end."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, bench_cli, make_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration

GUESTBOOK = str(REPO / "examples" / "guestbook")


def env_for(tmp_path: Path) -> dict:
    return {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path / "runs")}


def owners(folder: Path) -> dict:
    return {p: (p.stat().st_uid, p.stat().st_gid, p.stat().st_mode) for p in [folder, *folder.rglob("*")]}


def test_a_fragment_apache_rejects_is_refused_before_anything_starts(tmp_path):
    frag = tmp_path / "app.conf"
    frag.write_text("<Location /book>\n    NoSuchDirective on\n</Location>\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "book.db").write_text("")
    before = owners(data)
    env = env_for(tmp_path)
    port = procs.free_port()
    r = bench_cli("up", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/", "--app-conf", str(frag),
                  "--app-data", str(data), "--port", str(port), env=env, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert f"--app-conf {frag}: apache2 -t refuses it:" in line and "NoSuchDirective" in line
    assert not (Path(env["BENCH_STATE_DIR"]) / "state.json").exists() and not procs.port_in_use(port)
    assert not procs.processes_mentioning(env["BENCH_STATE_DIR"]) and owners(data) == before


@pytest.mark.parametrize("flag", ["--app-venv", "--app-data"])
def test_a_missing_folder_is_one_line_and_nothing_starts(tmp_path, flag):
    env = env_for(tmp_path)
    r = bench_cli("up", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/", flag,
                  str(tmp_path / "nope"), "--port", str(procs.free_port()), env=env, timeout=60)
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith(f"error: {flag} '{tmp_path}/nope' is not a directory") or \
        f"{flag} '{tmp_path}/nope' is not a directory" in line
    assert not (Path(env["BENCH_STATE_DIR"]) / "state.json").exists()


def test_a_run_with_a_fragment_and_a_data_folder_gives_the_folder_back(tmp_path):
    frag = tmp_path / "app.conf"
    frag.write_text('<Location /book>\n    SetEnv site.title "From the fragment"\n</Location>\n')
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    os.chmod(data, 0o750)
    before = owners(data)
    env = env_for(tmp_path)
    # The WSGI guestbook routes on PATH_INFO: under --mount /book its / is /book/ (SCRIPT_NAME /book).
    r = bench_cli("run", "--app", GUESTBOOK, "--app-wsgi", "wsgi.py", "--paths", "/", "--mount", "/book",
                  "--app-conf", str(frag), "--app-data", str(data), "--quick", "--trials", "1", "--duration", "3",
                  "--warmup", "1", "--users", "2", "--processes", "2", "--no-report",
                  "--port", str(procs.free_port()), env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "GET /book/ answered HTTP 200" in r.stdout
    assert owners(data) == before


def write_app(folder: Path, data: Path) -> Path:
    """A handler that appends a line to data/visits.txt at every request (an application's database file)."""
    folder.mkdir()
    (folder / "writer.py").write_text(
        "from mod_python import apache\n\n\ndef handler(req):\n"
        f"    with open('{data}/visits.txt', 'a') as f:\n        f.write('visit\\n')\n"
        "    req.write('ok')\n    return apache.OK\n")
    return folder


@pytest.mark.parametrize("given", [True, False], ids=["with-app-data", "without"])
def test_an_application_writes_its_data_folder_or_its_failed_write_is_flagged(tmp_path, given):
    top = make_state_dir()  # /var/tmp, 0755: www-data can reach it
    data = top / "data"
    data.mkdir(mode=0o755)
    before = owners(data)
    app = write_app(tmp_path / "app", data)
    env = env_for(tmp_path)
    r = bench_cli("run", "--app", str(app), "--app-handler", "writer", "--paths", "/", "--quick", "--trials", "1",
                  "--duration", "3", "--warmup", "1", "--users", "2", "--processes", "2", "--no-report",
                  *(["--app-data", str(data)] if given else []), "--port", str(procs.free_port()), env=env,
                  timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    (run_dir,) = Path(env["BENCH_RUNS_DIR"]).iterdir()
    (cell,) = json.loads((run_dir / "results.json").read_text())["results"]
    (trial,) = cell["trials"]
    flags = " ".join(trial["flags"])
    if given:
        assert trial["server"]["status"].get("500", 0) == 0 and "error log" not in flags
        visits = data / "visits.txt"
        assert visits.read_text().count("visit") >= trial["server"]["requests"] > 0
        # Given back: the folder as it was, what the application made owned by the folder's owner.
        assert owners(data)[data] == before[data] and visits.stat().st_uid == data.stat().st_uid
    else:
        assert trial["server"]["status"].get("500", 0) > 0
        assert "error log: Traceback" in flags and "PermissionError" in flags


@pytest.mark.parametrize("after_s", [2, 12], ids=["while-starting", "in-the-trial"])
def test_ctrl_c_during_a_run_gives_the_data_folder_back(tmp_path, after_s):
    top = make_state_dir()
    data = top / "data"
    data.mkdir(mode=0o750)
    (data / "db").write_text("")
    before = owners(data)
    app = write_app(tmp_path / "app", data)
    env = {**os.environ, **env_for(tmp_path)}
    run = subprocess.Popen([sys.executable, "-m", "bench", "run", "--app", str(app), "--app-handler", "writer",
                            "--paths", "/", "--quick", "--trials", "1", "--duration", "30", "--warmup", "1",
                            "--users", "1", "--processes", "1", "--no-report", "--app-data", str(data),
                            "--port", str(procs.free_port())], cwd=REPO, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while owners(data)[data] == before[data] and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert owners(data)[data] != before[data], "the folder was never given to the serving user"
    time.sleep(after_s)
    run.send_signal(signal.SIGINT)
    out, _ = run.communicate(timeout=120)
    assert run.returncode != 0, out
    assert {p: v for p, v in owners(data).items() if p in before} == before, out
    assert not procs.processes_mentioning(env["BENCH_STATE_DIR"])


def make_venv_app(top: Path) -> tuple[Path, Path]:
    """A virtualenv of /usr/bin/python3 whose only package is reached through a .pth file (as an editable
    install is), and an --app folder holding nothing but a WSGI file that imports it."""
    venv = top / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    lib = top / "src"
    lib.mkdir()
    (lib / "venvsite.py").write_text(
        # mod_python is Debian's (dist-packages): a venv without system site-packages has it only under mod_python.
        "def handler(req):\n    from mod_python import apache\n    req.write('from the venv')\n"
        "    return apache.OK\n\n\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'from the venv']\n")
    (next(venv.glob("lib/python3.*/site-packages")) / "src.pth").write_text(f"{lib}\n")
    app = top / "app"
    app.mkdir()
    (app / "site.wsgi").write_text("from venvsite import application  # noqa: F401\n")
    for p in (top, *top.rglob("*")):
        p.chmod(p.stat().st_mode | 0o755 if p.is_dir() else p.stat().st_mode | 0o644)
    return venv, app


@pytest.mark.parametrize("kind", [["--app-handler", "venvsite"], ["--app-wsgi", "site.wsgi"]],
                         ids=["mod_python", "mod_wsgi"])
def test_a_package_of_the_venv_is_served_with_per_process_figures(tmp_path, kind):
    venv, app = make_venv_app(make_state_dir())
    env = env_for(tmp_path)
    r = bench_cli("run", "--app", str(app), *kind, "--app-venv", str(venv), "--paths", "/", "--quick", "--trials",
                  "1", "--duration", "3", "--warmup", "1", "--users", "2", "--processes", "2", "--no-report",
                  "--port", str(procs.free_port()), env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "GET / answered HTTP 200" in r.stdout
    (run_dir,) = Path(env["BENCH_RUNS_DIR"]).iterdir()
    (cell,) = json.loads((run_dir / "results.json").read_text())["results"]
    (trial,) = cell["trials"]
    assert trial["server"]["status"].get("200", 0) == trial["server"]["requests"] > 0
    assert "per Python process" in r.stdout
