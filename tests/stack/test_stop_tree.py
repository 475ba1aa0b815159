"""bench.stack.procs.stop_tree: an exited process is gone while a zombie, and child_grace kills a child that
ignores the stop so that its parent finishes its own shutdown (Apache's, with a hung mod_python child)."""

import subprocess
import sys
import textwrap

import psutil
import pytest

from bench.stack import procs

pytestmark = pytest.mark.integration

# A parent that, on SIGTERM, waits for its child and exits 0; the child ignores SIGTERM (a hung exit path).
PARENT = textwrap.dedent("""
    import signal, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c",
                              "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
    def stop(*_):
        child.wait()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print(child.pid, flush=True)
    signal.pause()
""")


def test_an_exited_child_is_gone_and_reaped():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    proc = psutil.Process(p.pid)
    assert procs.wait_gone([proc], 10) == []
    assert not psutil.pid_exists(p.pid) or psutil.Process(p.pid).status() != psutil.STATUS_ZOMBIE


def test_child_grace_kills_the_hung_child_and_lets_the_parent_exit_by_itself():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    procs.stop_tree(parent.pid, child_grace=0.5, timeout=10)
    assert parent.wait(timeout=10) == 0  # it shut down itself, once its child was gone: not SIGKILLed
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
