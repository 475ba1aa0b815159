"""handlers/options.py: the one parser of the bench.* options both entry points read (stdlib only, so it
is imported here directly, unlike the modules that need mod_python)."""

import importlib.util
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
_spec = importlib.util.spec_from_file_location("handler_options", HANDLERS / "options.py")
options = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(options)


def test_defaults_when_nothing_is_set():
    assert options.parse({}) == {"dsn": "", "pool_size": 1, "template_dir": "", "leaky": False}


def test_values_as_httpd_conf_writes_them():
    got = options.parse({"bench.dsn": "host=/tmp dbname=b", "bench.pool_size": "2", "bench.template_dir": "/t",
                         "bench.leaky": "ON", "unrelated": "x"})
    assert got == {"dsn": "host=/tmp dbname=b", "pool_size": 2, "template_dir": "/t", "leaky": True}
    assert options.parse({"bench.leaky": "Off"})["leaky"] is False


def test_both_entry_points_use_it():
    for entry in ("handler_entry.py", "wsgi_entry.py"):
        text = (HANDLERS / entry).read_text()
        assert "app.configure(**options.parse(" in text and "bench.pool_size\"" not in text, entry
