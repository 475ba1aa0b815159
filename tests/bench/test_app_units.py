"""The pieces of --app that need no server: the load's Locust command, the generated conf lines, cold requests
derived from the access log, and the traceback a trial's flags quote from the error log."""

from pathlib import Path

import pytest

from bench.errors import UserError
from bench.load import access_log
from bench.load.locust_runner import command
from bench.load.plan import Plan
from bench.load.trial import error_log_flags
from bench.stack.apache import Apache
from bench.stack.app import App, parse_paths
from bench.stack.knobs import StackSettings

GUESTBOOK = str(Path(__file__).resolve().parents[2] / "examples" / "guestbook")


def test_paths_keep_their_order_and_query():
    assert parse_paths(" /, /?page={n} ,/a?b=1&c=2") == ("/", "/?page={n}", "/a?b=1&c=2")
    for bad in ("", "a", "/ok,relative", "/a b"):
        with pytest.raises(UserError):
            parse_paths(bad)


def test_locust_command_for_paths_and_for_a_locustfile(tmp_path):
    plan = Plan(workloads=["app"], variants=["guestbook"]).validate()
    cmd = command(plan, "http://h", "app", "guestbook", tmp_path, app=App(GUESTBOOK, "guestbook", paths=("/", "/x")))
    assert cmd[-1] == "AppPaths" and cmd[cmd.index("-f") + 1].endswith("scenarios/_locustfile_paths.py")
    assert cmd[cmd.index("--bench-paths") + 1] == "/,/x"
    own = App(GUESTBOOK, "guestbook", locustfile="/x/locustfile.py")
    cmd = command(plan, "http://h", "app", "guestbook", tmp_path, app=own)
    # No class named: Locust picks the user's classes; the suite's listener is loaded beside them.
    assert cmd[cmd.index("-f") + 1].endswith("scenarios/_locustfile_app.py,/x/locustfile.py")
    assert cmd[-2:] == ["--queries", "20"]
    assert "PooledDb" not in cmd and "--bench-paths" not in cmd


def render(tmp_path, **settings) -> str:
    return Apache(tmp_path, StackSettings(**settings), "dbname=x").render()


def test_the_conf_serves_the_app_and_logs_its_pid(tmp_path):
    app = App(GUESTBOOK, "guestbook::handler", options=(("site.title", "My book"),), paths=("/",))
    conf = render(tmp_path, app=app)
    assert "PythonHandler guestbook::handler" in conf and f"PythonPath \"['{tmp_path}/app'] + sys.path\"" in conf
    assert 'PythonOption site.title "My book"' in conf and " %P %k " in conf
    assert "PythonHandler handler_entry" not in conf
    wsgi = render(tmp_path, app=App(GUESTBOOK, wsgi="wsgi.py", paths=("/",)), server="mod_wsgi",
                  max_connections_per_child=40)
    assert "%{X-Bench-Pid}o %k" in wsgi and f'SetEnv bench.app_wsgi "{tmp_path}/app/wsgi.py"' in wsgi
    assert f'python-path="{tmp_path}/app"' in wsgi and "maximum-requests=40" in wsgi
    # Daemon mode: only the daemons are recycled, not the relaying children.
    assert "MaxConnectionsPerChild 0\n" in wsgi
    embedded = render(tmp_path, server="mod_wsgi", wsgi_mode="embedded", max_connections_per_child=40)
    assert "MaxConnectionsPerChild 40\n" in embedded


def test_cold_requests_are_each_pids_first_when_the_server_flags_none(tmp_path):
    log = tmp_path / "access.log"
    lines = [f"{100 + i}.0 {pid} 0 200 {us} 10 GET / - -" for i, (pid, us) in
             enumerate([(7, 9000), (8, 8000), (7, 500), (7, 400), (7, 450), (8, 300), (0, 50)])]
    log.write_text("\n".join(lines) + "\n")
    entries = access_log.read(log)
    cold = [(e.pid, e.micros) for e in entries if e.cold]
    assert cold == [(7, 9000), (8, 8000), (7, 500), (7, 400), (8, 300)]  # first 3 per pid; pid 0 never
    flagged = tmp_path / "flagged.log"
    flagged.write_text("100.0 7 0 200 9000 10 GET / 1 1\n101.0 7 0 200 500 10 GET / 0 2\n")
    assert [e.cold for e in access_log.read(flagged)] == [True, False]  # the handlers' own flag wins


MOD_PYTHON_LOG = """\
[Thu Dec 03 13:16:34.14 2026] [mpm_prefork:error] [pid 8843:tid 8843] AH00161: server reached MaxRequestWorkers
[Thu Dec 03 13:16:34.15 2026] [:error] [pid 8845:tid 8845] [client 127.0.0.1:43122] PythonHandler broken: \
Traceback (most recent call last):
[Thu Dec 03 13:16:34.15 2026] [:error] [pid 8845:tid 8845] [client 127.0.0.1:43122] PythonHandler broken:   \
File "/usr/lib/python3/dist-packages/mod_python/apache.py", line 402, in HandlerDispatch\\n    result = obj(req)
[Thu Dec 03 13:16:34.16 2026] [:error] [pid 8845:tid 8845] [client 127.0.0.1:43122] PythonHandler broken:   \
File "/s/app/broken.py", line 4, in handler\\n    raise ValueError('gone')
[Thu Dec 03 13:16:34.17 2026] [:error] [pid 8845:tid 8845] [client 127.0.0.1:43122] PythonHandler broken: \
ValueError: gone
"""


P = "[Thu Dec 03 13:33:09.95 2026] [wsgi:error] [pid 23326:tid 23330] [remote 127.0.0.1:55808] "
MOD_WSGI_LOG = "".join(P + line + "\n" for line in (
    "mod_wsgi (pid=23326): Exception occurred processing WSGI script '/s/handlers/app_wsgi.py'.",
    "Traceback (most recent call last):",
    '  File "/s/handlers/app_wsgi.py", line 40, in application', "    return _user_app(environ, start)",
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^", '  File "/s/app/app.py", line 2, in application',
    "    raise KeyError('no such entry')", "KeyError: 'no such entry'"))


def test_the_first_traceback_is_quoted(tmp_path):
    log = tmp_path / "error.log"
    log.write_text(MOD_PYTHON_LOG)
    (flag,) = error_log_flags(log, 0)
    assert flag == ('error log: Traceback (most recent call last): | File "/s/app/broken.py", line 4, in handler | '
                    "ValueError: gone")
    assert error_log_flags(log, log.stat().st_size) == [] and error_log_flags(tmp_path / "none", 0) == []
    log.write_text(MOD_WSGI_LOG)
    assert error_log_flags(log, 0) == ['error log: Traceback (most recent call last): | File "/s/app/app.py", '
                                       "line 2, in application | KeyError: 'no such entry'"]


def test_the_app_is_named_after_its_module_not_its_folder(tmp_path):
    """Two checkouts of one application (v1/, v2/) get the same name, so `bench compare` pairs their cells."""
    from bench.stack.app import AppArgs, default_name, from_args

    for folder in ("v1", "v2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "wsgi.py").write_text("def application(e, s): pass\n")
        got = from_args(AppArgs(app=str(tmp_path / folder), app_handler="site.pages::handler", paths="/"),
                        check_code=False)
        assert got.name == "site.pages"
        wsgi = from_args(AppArgs(app=str(tmp_path / folder), app_wsgi="wsgi.py", paths="/"), check_code=False)
        assert wsgi.name == "wsgi"
    assert default_name(None, "deploy/app.wsgi") == "app" and default_name("guestbook", None) == "guestbook"
    named = from_args(AppArgs(app=str(tmp_path / "v1"), app_wsgi="wsgi.py", paths="/", app_name="shop-2"),
                      check_code=False)
    assert named.name == "shop-2" and App.from_dict(named.to_dict()) == named
    # An old state.json without a name: the default, never the folder's.
    old = {k: v for k, v in named.to_dict().items() if k != "name"}
    assert App.from_dict(old).name == "wsgi"


@pytest.mark.parametrize("bad", ["", "a b", "-x", "x/y", "é", "a" * 65])
def test_app_name_is_checked(tmp_path, bad):
    from bench.stack.app import AppArgs, from_args

    with pytest.raises(UserError, match="--app-name"):
        from_args(AppArgs(app=str(tmp_path), app_handler="page", paths="/", app_name=bad), check_code=False)
    with pytest.raises(UserError, match="--app-name 'x' needs --app DIR"):
        from_args(AppArgs(app_name="x"))


def test_bench_run_takes_app_name(tmp_path):
    """--app-name reaches the plan: the run's one cell is app/NAME."""
    from bench.cli import _plan_from_args, build_parser

    args = build_parser().parse_args(["run", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/",
                                      "--app-name", "book-v2", "--no-partition"])
    assert _plan_from_args(args).variants == ["book-v2"]
    tune = build_parser().parse_args(["tune", "--app", GUESTBOOK, "--app-wsgi", "wsgi.py", "--paths", "/",
                                      "--app-name", "book-v2"])
    assert tune.app_name == "book-v2"
