"""--app-venv, --app-conf, --mount and --app-data without a server: what each accepts and refuses (one line,
naming the value), what they write into httpd.conf, and the data folders' ownership given back."""

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.stack import app_conf, app_data
from bench.stack.apache import Apache
from bench.stack.app import App, AppArgs, check_venv, embedded_version, from_args, parse_mount
from bench.stack.knobs import StackSettings

GUESTBOOK = str(Path(__file__).resolve().parents[2] / "examples" / "guestbook")
MINOR = ".".join(embedded_version().split(".")[:2])


def fake_venv(root: Path, version: str, site: bool = True) -> Path:
    root.mkdir()
    (root / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}\n")
    if site:
        (root / f"lib/python{'.'.join(version.split('.')[:2])}/site-packages").mkdir(parents=True)
    return root


def test_a_venv_of_the_embedded_python_is_accepted_and_others_refused_naming_both_versions(tmp_path):
    good = fake_venv(tmp_path / "good", f"{MINOR}.2")
    assert check_venv(str(good)) == str(good)
    with pytest.raises(UserError, match=rf"is Python 3\.99 \(pyvenv.cfg version 3\.99\.1\); Apache embeds Python "
                       rf"{MINOR} \(/usr/bin/python3\): make the virtualenv with /usr/bin/python3 -m venv"):
        check_venv(str(fake_venv(tmp_path / "other", "3.99.1")))
    with pytest.raises(UserError, match=rf"has no lib/python{MINOR}/site-packages"):
        check_venv(str(fake_venv(tmp_path / "bare", f"{MINOR}.2", site=False)))
    (tmp_path / "plain").mkdir()
    with pytest.raises(UserError, match="is not a virtualenv \\(no pyvenv.cfg\\)"):
        check_venv(str(tmp_path / "plain"))
    with pytest.raises(UserError, match="is not a directory"):
        check_venv(str(tmp_path / "missing"))


def test_the_venv_is_python_home_under_mod_wsgi_and_addsitedir_under_mod_python(tmp_path):
    venv = str(fake_venv(tmp_path / "venv", f"{MINOR}.2"))
    site = f"{venv}/lib/python{MINOR}/site-packages"
    state = tmp_path / "state"
    mp = Apache(state, StackSettings(app=App(GUESTBOOK, "guestbook", paths=("/",), venv=venv)), "dbname=x").render()
    assert f"PythonPath \"__import__('site').addsitedir('{site}') or ['{state}/app'] + sys.path\"" in mp
    wsgi = App(GUESTBOOK, wsgi="wsgi.py", paths=("/",), venv=venv, mount="/tracker")
    conf = Apache(state, StackSettings(app=wsgi, server="mod_wsgi"), "dbname=x").render()
    assert f'python-home="{venv}"' in conf and 'WSGIScriptAlias /tracker "' in conf
    embedded = Apache(state, StackSettings(app=wsgi, server="mod_wsgi", wsgi_mode="embedded"), "dbname=x").render()
    assert f'WSGIPythonHome "{venv}"' in embedded


def test_the_import_check_finds_a_module_through_a_pth_file_in_the_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    lib = tmp_path / "elsewhere"
    lib.mkdir()
    (lib / "tracker_front.py").write_text("def handler(req):\n    return 0\n")
    (venv / f"lib/python{MINOR}/site-packages/elsewhere.pth").write_text(f"{lib}\n")
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    given = AppArgs(app=str(app_dir), app_handler="tracker_front", paths="/", app_venv=str(venv))
    assert from_args(given).venv == str(venv)  # imports: the .pth was read
    given.app_venv = None
    with pytest.raises(UserError, match="does not import from --app .*ModuleNotFoundError.*give it with --app-venv"):
        from_args(given)
    # Under mod_wsgi the venv's own python checks it, isolated as python-home= makes the daemons.
    (app_dir / "site.wsgi").write_text("import tracker_front\nimport mod_python\napplication = tracker_front.handler\n")
    wsgi = AppArgs(app=str(app_dir), app_wsgi="site.wsgi", paths="/", app_venv=str(venv))
    with pytest.raises(UserError, match="No module named 'mod_python'"):
        from_args(wsgi)
    (app_dir / "site.wsgi").write_text("import tracker_front\napplication = tracker_front.handler\n")
    assert from_args(wsgi).wsgi == "site.wsgi"


def test_mount_puts_the_paths_under_it_and_bad_mounts_are_refused(tmp_path):
    given = AppArgs(app=GUESTBOOK, app_handler="guestbook", paths="/,/wiki?x=1", mount="/tracker")
    app = from_args(given, check_code=False)
    assert app.mount == "/tracker" and app.paths == ("/tracker/", "/tracker/wiki?x=1")
    conf = Apache(tmp_path, StackSettings(app=app), "dbname=x").render()
    assert "<Location /tracker>" in conf
    for bad in ("tracker", "/tracker/", "/a b", '/a"b', ""):
        with pytest.raises(UserError, match="--mount"):
            parse_mount(bad)
    with pytest.raises(UserError, match="--mount '/t' needs --app DIR"):
        from_args(AppArgs(mount="/t"))


def test_the_fragment_is_included_and_a_directive_the_suite_sets_is_refused_by_name(tmp_path):
    frag = tmp_path / "app.conf"
    frag.write_text("<Location /tracker>\n  PythonInterpreter trac\n  PythonOption TracEnv /x\n</Location>\n")
    assert app_conf.check_file(str(frag)) == str(frag)
    app = App(GUESTBOOK, "guestbook", paths=("/",), conf=str(frag))
    assert f'Include "{frag}"' in Apache(tmp_path, StackSettings(app=app), "dbname=x").render()
    for line, name in (("MaxRequestsPerChild 5", "MaxRequestsPerChild"), ("  keepalive off", "keepalive"),
                       ("Listen 8080", "Listen"), ("User nobody", "User"), ("ServerLimit 9", "ServerLimit"),
                       ("WSGIDaemonProcess t processes=2", "WSGIDaemonProcess")):
        frag.write_text(f"# MaxConnectionsPerChild 1 in a comment is fine\nSetEnv A b\n{line}\n")
        with pytest.raises(UserError, match=rf"--app-conf {frag} line 3: {name} is set by "):
            app_conf.check_file(str(frag))
    with pytest.raises(UserError, match="is not a file"):
        app_conf.check_file(str(tmp_path / "missing.conf"))


def test_data_folders_must_exist(tmp_path):
    assert app_data.check_dirs([str(tmp_path)]) == (str(tmp_path),)
    with pytest.raises(UserError, match=r"--app-data '.*/nope' is not a directory: give an existing folder"):
        app_data.check_dirs([str(tmp_path / "nope")])
    with pytest.raises(UserError, match="--app-data '/x' needs --app DIR"):
        from_args(AppArgs(app_data=["/x"]))


def test_data_folders_are_given_to_the_serving_user_and_back_as_they_were(tmp_path):
    data = tmp_path / "env"
    (data / "db").mkdir(parents=True)
    (data / "db" / "trac.db").write_text("x")
    os.chmod(data / "db" / "trac.db", 0o444)
    os.chmod(data / "db", 0o555)
    before = {p: (p.stat().st_uid, p.stat().st_mode) for p in (data, data / "db", data / "db" / "trac.db")}
    me = pwd.getpwuid(os.geteuid())
    state = tmp_path / "state"
    app_data.grant(state, (str(data),), me)
    assert (state / app_data.RECORD).exists()
    with pytest.raises(UserError, match="not yet given back: run `bench down` first"):
        app_data.grant(state, (str(data),), me)  # a crashed run's record is never overwritten
    assert os.access(data / "db" / "trac.db", os.W_OK) and (data / "db").stat().st_mode & 0o200
    assert app_data.restore(state) == 3 and not (state / app_data.RECORD).exists()
    assert {p: (p.stat().st_uid, p.stat().st_mode) for p in before} == before
    app_data.grant(state, (str(data),), None)  # not root: the current user serves, nothing to change
    assert not (state / app_data.RECORD).exists()
