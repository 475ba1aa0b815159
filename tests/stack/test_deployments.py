"""`bench run --servers` entries with a shape ("mod_python:worker:1x4"): parsing, what they change, bad input."""

import pytest

from bench import cli
from bench.errors import UserError
from bench.stack.knobs import StackSettings
from bench.stack.servers import parse_deployment


def test_an_entry_names_its_server_mpm_and_shape():
    d = parse_deployment(" mod_python:worker:1x4 ")
    assert (d.label, d.server, d.mpm, d.processes, d.threads) == ("mod_python:worker:1x4", "mod_python", "worker", 1, 4)
    # the order of the optional parts does not matter; the label is normalised
    assert parse_deployment("mod_python:2x4:event").label == "mod_python:event:2x4"
    assert parse_deployment("mod_wsgi").label == "mod_wsgi"
    assert cli._plan_from_args(cli.build_parser().parse_args(
        ["run", "--servers", "mod_python:worker:1x4, mod_python:1x4:worker,mod_wsgi"])).servers == [
        "mod_python:worker:1x4", "mod_wsgi"]  # the same entry twice is measured once


def test_what_an_entry_leaves_out_comes_from_the_run_settings():
    base = StackSettings(processes=4, threads=1, mpm="prefork", pool_size=1)
    worker = parse_deployment("mod_python:worker:1x4").apply(base)
    assert (worker.server, worker.mpm, worker.processes, worker.threads) == ("mod_python", "worker", 1, 4)
    wsgi = parse_deployment("mod_wsgi:1x4").apply(base)
    assert (wsgi.server, wsgi.mpm, wsgi.processes, wsgi.threads) == ("mod_wsgi", "prefork", 1, 4)
    assert parse_deployment("mod_python").apply(base) == base
    worker.validate()
    wsgi.validate()


@pytest.mark.parametrize("text", ["uwsgi", "mod_python:fork", "mod_python:0x4", "mod_python:4x", "mod_python:x4",
                                  "mod_python:worker:event", "mod_python:1x2:2x1", ""])
def test_a_bad_entry_is_one_line_naming_it(text):
    with pytest.raises(UserError) as err:
        parse_deployment(text)
    assert "\n" not in str(err.value) and repr(text) in str(err.value)


@pytest.mark.report
@pytest.mark.parametrize("argv, says", [
    (["run", "--servers", "mod_python:fork"], "'fork' is not valid"),
    # prefork holds one request per process: threads need worker or event under mod_python
    (["run", "--servers", "mod_python:prefork:1x4"], "--threads 4 needs --mpm worker or event"),
])
def test_bad_servers_stop_before_anything_starts(argv, says, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BENCH_RUNS_DIR", str(tmp_path / "runs"))
    code = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert not (tmp_path / "state").exists() and not (tmp_path / "runs").exists()
