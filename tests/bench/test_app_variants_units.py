"""--app-variant without a server: what it accepts and refuses (one line naming the value), the cells and paths a
run gets, the daemon group per variant in httpd.conf, and the attribution table it records."""

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import UserError
from bench.record import attribution
from bench.stack import app_variants
from bench.stack.apache import Apache
from bench.stack.app import App, AppArgs, from_args
from bench.stack.app_variants import AppVariant, parse, parse_all
from bench.stack.knobs import StackSettings

GUESTBOOK = str(Path(__file__).resolve().parents[2] / "examples" / "guestbook")
FOUR = ["naive:S=a", "conn[connection]:S=b", "tpl[template]:S=c", "both[connection,template]:S=d,X=1"]


def test_a_variant_is_its_name_its_kept_factors_and_its_environment():
    v = parse("pooled[template,connection]:DJANGO_SETTINGS_MODULE=mysite.pooled,DEBUG=0")
    assert v == AppVariant("pooled", ("pooled_connection", "cached_template"),
                           (("DJANGO_SETTINGS_MODULE", "mysite.pooled"), ("DEBUG", "0")))
    assert parse("plain") == AppVariant("plain")
    assert parse("x[prepared_statements]:").factors == ("prepared_statements",)


@pytest.mark.parametrize("text, message", [
    ("[connection]:S=a", r"--app-variant '\[connection\]:S=a' has no name"),
    (":S=a", "has no name"),
    ("a b:S=a", r"name 'a b' is not up to 32 letters"),
    ("x[pool]:S=a", r"unknown factor 'pool'; allowed connection, template, prepared"),
    ("x:S", r"'S' is not KEY=VALUE"),
    ("x:1S=a", r"'1S=a' is not KEY=VALUE"),
    ('x:S="a"', "is not KEY=VALUE"),
    ("server-status:S=a", "the suite's status page"),
])
def test_a_malformed_variant_is_refused_naming_it(text, message):
    with pytest.raises(UserError, match=message):
        parse(text)


def test_names_and_kept_factors_are_each_given_once_and_one_variant_alone_is_refused():
    with pytest.raises(UserError, match=r"--app-variant 'a\[template\]:S=2': the name 'a' is given twice"):
        parse_all(["a:S=1", "a[template]:S=2"])
    with pytest.raises(UserError, match=r"'b:S=2' keeps the same factors as 'a:S=1'"):
        parse_all(["a:S=1", "b:S=2"])
    with pytest.raises(UserError, match="alone: give two or more"):
        parse_all(["a:S=1"])


def test_the_variants_give_the_attribution_its_square_and_baseline():
    variants = parse_all(FOUR)
    app = App(GUESTBOOK, wsgi="wsgi.py", paths=("/x/", "/x/y?z=1"), mount="/x", variants=variants)
    table = attribution.of_stack({"app": App.from_dict(app.to_dict()).to_dict()})
    assert table.baseline == "naive"
    assert table.square() == attribution.Square("naive", "conn", "tpl", "both", "pooled_connection",
                                                "cached_template")
    assert attribution.of_stack({"app": {"variants": []}}).baseline == "naive"  # the suite's table
    assert app.cells == ["naive", "conn", "tpl", "both"]
    assert app.paths_of("tpl") == ("/x/tpl/", "/x/tpl/y?z=1")
    assert app.paths_of(app.name) == app.paths


def test_each_variant_gets_its_own_daemon_group_mount_and_environment(tmp_path):
    variants = parse_all(FOUR)
    app = App(GUESTBOOK, wsgi="wsgi.py", paths=("/",), variants=variants)
    conf = Apache(tmp_path, StackSettings(app=app, server="mod_wsgi", processes=3, threads=2,
                                          max_connections_per_child=50), "dbname=x").render()
    for v in variants:
        assert (f"WSGIDaemonProcess {v.group} processes=3 threads=2" in conf and "maximum-requests=50" in conf)
        assert f'WSGIScriptAlias /{v.name} "{tmp_path}/handlers/app_wsgi.py" process-group={v.group} ' \
               "application-group=%{GLOBAL}" in conf
    assert 'SetEnv bench.env.S "d"\n    SetEnv bench.env.X "1"' in conf
    assert "WSGIDaemonProcess bench " not in conf and "WSGIProcessGroup" not in conf
    single = Apache(tmp_path, StackSettings(app=App(GUESTBOOK, wsgi="wsgi.py", paths=("/",)), server="mod_wsgi"),
                    "dbname=x").render()
    assert 'WSGIProcessGroup bench' in single and f'WSGIScriptAlias / "{tmp_path}/handlers/app_wsgi.py"' in single
    assert app_variants.mount("/", "a") == "/a" and app_variants.mount("/t", "a") == "/t/a"


def test_variants_need_mod_wsgi_daemons_and_paths():
    base = dict(app=GUESTBOOK, paths="/", app_variant=FOUR)
    with pytest.raises(UserError, match="with --app-handler: variants need mod_wsgi's daemon groups"):
        from_args(AppArgs(app_handler="guestbook", **base), check_code=False)
    with pytest.raises(UserError, match="with --locustfile"):
        from_args(AppArgs(app=GUESTBOOK, app_wsgi="wsgi.py", locustfile=__file__, app_variant=FOUR), check_code=False)
    with pytest.raises(UserError, match="needs --app DIR"):
        from_args(AppArgs(app_variant=FOUR))
    app = from_args(AppArgs(app_wsgi="wsgi.py", **base), check_code=False)
    assert app is not None
    with pytest.raises(UserError, match="--wsgi-mode embedded with --app-variant"):
        StackSettings(app=app, server="mod_wsgi", wsgi_mode="embedded").validate()


@pytest.mark.parametrize("extra, message", [
    (["--app-variant", "x[pool]:S=1", "--app-variant", "y:S=2"], "unknown factor 'pool'"),
    (["--app-variant", ":S=1", "--app-variant", "y:S=2"], "has no name"),
    (["--app-variant", "y[template]:S=1", "--app-variant", "y:S=2"], "is given twice"),
    (["--app-variant", "y:S", "--app-variant", "z[template]:S=2"], "is not KEY=VALUE"),
])
def test_bad_variants_stop_bench_run_in_one_line_before_anything_starts(capsys, extra, message):
    code = main(["run", "--app", GUESTBOOK, "--app-wsgi", "wsgi.py", "--paths", "/", "--quick", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: --app-variant") and message in err[0]


def test_bench_tune_refuses_variants_in_one_line(capsys):
    code = main(["tune", "--app", GUESTBOOK, "--app-wsgi", "wsgi.py", "--paths", "/", "--values", "0,100",
                 "--app-variant", "a:S=1", "--app-variant", "b[template]:S=2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "bench tune sweeps one environment" in err[0]


def test_the_connection_budget_counts_every_variants_daemon_group():
    app = App(GUESTBOOK, wsgi="wsgi.py", paths=("/",), variants=parse_all(FOUR))
    s = StackSettings(app=app, server="mod_wsgi", processes=3)
    alone = StackSettings(app=App(GUESTBOOK, wsgi="wsgi.py", paths=("/",)), server="mod_wsgi", processes=3)
    assert s.connections_needed - 3 == 4 * (alone.connections_needed - 3)
    assert s.budget_text.startswith("4 --app-variant daemon groups x --processes 3")
