"""The bench.* options of both entry points, parsed once: mod_python passes them as PythonOption (a table
from req.get_options()), mod_wsgi as SetEnv (in environ). Both are mappings with .get."""

# option name -> (app.configure's keyword, default as written in httpd.conf)
OPTIONS = {
    "bench.dsn": ("dsn", ""),
    "bench.pool_size": ("pool_size", "1"),
    "bench.template_dir": ("template_dir", ""),
    "bench.leaky": ("leaky", "Off"),
}


def parse(settings):
    """app.configure's keywords from `settings`: pool_size an int, leaky True only for On (any case)."""
    raw = {key: settings.get(name, default) for name, (key, default) in OPTIONS.items()}
    raw["pool_size"] = int(raw["pool_size"])
    raw["leaky"] = raw["leaky"].lower() == "on"
    return raw
