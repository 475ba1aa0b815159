"""What a stack leaves behind: `bench down` removes the state folder (nothing in it is a cache), never while a
stack is recorded there or a process runs from it, and never a file the suite did not make."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import stack
from bench.stack import procs


def _as_a_stopped_stack_leaves_it(state: Path) -> None:
    for name in ("apache/run", "handlers/__pycache__", "app"):
        (state / name).mkdir(parents=True)
    (state / "apache" / "access.log").write_text("1.0 42 1 200 100 13 GET /pooled/db 0 1\n")
    (state / "apache" / "httpd.conf").write_text("Listen 127.0.0.1:8089\n")
    (state / "handlers" / "handler_entry.py").write_text("")
    (state / "sessions-access.log").write_text("")


def test_down_removes_what_the_stack_made_and_the_folder(tmp_path):
    state = tmp_path / "state"
    _as_a_stopped_stack_leaves_it(state)
    assert stack.down(state) == []
    assert not state.exists()


def test_a_file_the_suite_did_not_make_is_kept_with_its_folder(tmp_path):
    state = tmp_path / "state"
    _as_a_stopped_stack_leaves_it(state)
    (state / "notes.txt").write_text("mine")
    assert stack.remove_state(state)
    assert [p.name for p in state.iterdir()] == ["notes.txt"]


def test_a_recorded_stack_keeps_its_folder(tmp_path):
    state = tmp_path / "state"
    _as_a_stopped_stack_leaves_it(state)
    (state / "state.json").write_text(json.dumps({"settings": {}}))
    assert not stack.remove_state(state)
    assert (state / "apache" / "access.log").exists() and (state / "handlers" / "handler_entry.py").exists()


@pytest.mark.integration
def test_a_process_running_from_the_folder_keeps_it(tmp_path):
    state = tmp_path / "state"
    _as_a_stopped_stack_leaves_it(state)
    # A stand-in for Apache: a process whose command line names the state folder, as `apache2 -f` does.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(state / "apache")])
    try:
        deadline = time.monotonic() + 10
        while not procs.processes_mentioning(str(state)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not stack.remove_state(state)
        assert (state / "apache" / "httpd.conf").exists()
    finally:
        child.kill()
        child.wait()
    assert stack.remove_state(state) and not state.exists()
