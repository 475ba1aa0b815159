"""--app-conf and --app-data through the real `bench` command: bad input is one line, exit 1, nothing started
and nothing left (the data folder's ownership as it was); a fragment `apache2 -t` rejects names Apache's first
error line; a good fragment and a data folder serve a run, and the folder is given back at the end."""

import os
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
