"""Bad input: one line naming the bad value, exit 1 (argparse's 2 for malformed syntax), no traceback,
nothing started and nothing written. Runs the real CLI entry point in this process."""

import math
from pathlib import Path

import pytest

from bench import cli

GUESTBOOK = str(Path(__file__).resolve().parents[2] / "examples" / "guestbook")
LOCUSTFILE = str(Path(__file__).resolve().parents[2] / "scenarios" / "locustfile.py")

BAD = [
    # bench up
    ("up", "--port", "0"), ("up", "--port", "70000"), ("up", "--processes", "0"), ("up", "--processes", "1000"),
    ("up", "--keepalive", "maybe"), ("up", "--keepalive-timeout", "0"), ("up", "--pool-size", "0"),
    ("up", "--pg-max-connections", "5"), ("up", "--max-connections-per-child", "-1"),
    ("up", "--max-keepalive-requests", "-3"), ("up", "--server-cpus", "a"), ("up", "--server-cpus", "1-0"),
    ("up", "--server-cpus", "4096"), ("up", "--server-cpus", ""), ("up", "--dsn", "host=127.0.0.1 port=x"),
    ("up", "--processes", "60", "--pool-size", "2"),
    # bench run
    ("run", "--duration", "nan"), ("run", "--duration", "inf"), ("run", "--duration", "1e9"),
    ("run", "--duration", "0"), ("run", "--duration", "-5"), ("run", "--warmup", "nan"), ("run", "--warmup", "-1"),
    ("run", "--warmup", "30"), ("run", "--trials", "0"), ("run", "--trials", "100000"), ("run", "--users", "0"),
    ("run", "--users", "1000000"), ("run", "--queries", "0"), ("run", "--queries", "501"),
    ("run", "--url", "http://[::1"), ("run", "--url", "ftp://example"), ("run", "--url", "http://"),
    ("run", "--url", "http://127.0.0.1:99999"), ("run", "--workloads", "foo"), ("run", "--workloads", ","),
    ("run", "--variants", "bar"), ("run", "--locust-processes", "0"),
    ("run", "--server-cpus", "0", "--generator-cpus", "0"), ("run", "--generator-cpus", "x"),
    ("run", "--saturate", "--max-p99", "nan"), ("run", "--saturate", "--max-p99", "0"),
    # bench tune
    ("tune", "--duration", "nan"), ("tune", "--warmup", "inf"), ("tune", "--values", "a"), ("tune", "--values", "-1"),
    ("tune", "--max-loss", "0"), ("tune", "--max-loss", "100"), ("tune", "--max-loss", "abc"),
    ("tune", "--memory-budget", "12XB"), ("tune", "--memory-budget", "total:0"), ("tune", "--keepalive", "maybe"),
    ("tune", "--workload", "foo"), ("tune", "--variant", "bar"), ("tune", "--trials", "0"),
    ("tune", "--confirm-max-duration", "1"), ("tune", "--confirm-max-duration", "nan"),
    ("tune", "--knob", "processes", "--slo", "p99<<5ms"), ("tune", "--knob", "processes", "--slo", ","),
    ("tune", "--knob", "processes", "--slo", "p99<50ms", "--max-p99", "40"), ("tune", "--slo", "p99<50ms"),
    # your own application (--app)
    ("up", "--app", "/nonexistent/app", "--app-handler", "site", "--paths", "/"),
    ("up", "--app", GUESTBOOK, "--app-handler", "nosuchmodule", "--paths", "/"),
    ("up", "--app", GUESTBOOK, "--app-handler", "guestbook::nothere", "--paths", "/"),
    ("up", "--app", GUESTBOOK, "--app-handler", "not a module", "--paths", "/"),
    ("up", "--app", GUESTBOOK, "--app-wsgi", "book.py", "--paths", "/"),  # no `application` in it
    ("up", "--app", GUESTBOOK, "--app-wsgi", "missing.py", "--paths", "/"),
    ("up", "--app", GUESTBOOK, "--app-wsgi", "/etc/hostname", "--paths", "/"),
    ("up", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", ","),
    ("run", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/,entries"),
    ("up", "--app", GUESTBOOK, "--app-handler", "guestbook", "--app-wsgi", "wsgi.py", "--paths", "/"),
    ("tune", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/", "--locustfile", LOCUSTFILE),
    ("run", "--app", GUESTBOOK, "--app-handler", "guestbook", "--locustfile", "/nonexistent/locustfile.py"),
    ("up", "--app-handler", "guestbook"), ("run", "--paths", "/"), ("up", "--app", GUESTBOOK),
    ("up", "--app", GUESTBOOK, "--app-handler", "guestbook"),
    ("run", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/", "--workloads", "db"),
    ("run", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/", "--url", "http://127.0.0.1:1"),
    ("up", "--app", GUESTBOOK, "--app-wsgi", "wsgi.py", "--server", "mod_python", "--paths", "/"),
    ("up", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/", "--app-option", "novalue"),
    # bench sessions
    ("sessions", "--server", "nginx"), ("sessions", "--wsgi-mode", "threads"),
    # bench report / compare
    ("report", "/nonexistent/run"), ("compare", "/nonexistent/a", "/nonexistent/b"),
    ("compare", "--min-change", "nan", "/nonexistent/a", "/nonexistent/b"),
    ("compare", "--min-change", "-1", "/nonexistent/a", "/nonexistent/b"),
]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    state, runs = tmp_path / "state", tmp_path / "runs"
    monkeypatch.setenv("BENCH_STATE_DIR", str(state))
    monkeypatch.setenv("BENCH_RUNS_DIR", str(runs))
    return state, runs


def test_the_table_is_large_enough():
    assert len(BAD) >= 40
    assert {a[0] for a in BAD} == {"up", "run", "tune", "sessions", "report", "compare"}


@pytest.mark.report
@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_input(argv, sandbox, capsys):
    state, runs = sandbox
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse: malformed syntax
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2), (code, err)
    assert "Traceback" not in "\n".join(err)
    last = err[-1] if err else ""
    assert last.startswith(("error:", "bench ")) and len(last) < 400, err
    # The bad value is named (unless it is the empty string).
    bad = [a for a in argv[1:] if not a.startswith("--")]
    named = [b for b in bad if b and not (isinstance(b, float) and math.isnan(b))]
    assert any(b in last or b.lower() in last.lower() for b in named) or not named, (argv, last)
    assert not (state / "state.json").exists()
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.integration
def test_the_parser_loads_no_statistics_or_plotting_library() -> None:
    # Every `bench` command builds the whole parser first: scipy alone took a second of it (bench.record's
    # verdicts and the open model's statistics), before any work. They load when there is work.
    import subprocess
    import sys

    code = ("import sys; from bench import cli; cli.build_parser(); "
            "print(sorted(m for m in ('scipy', 'matplotlib', 'locust') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
