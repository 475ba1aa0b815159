"""The bench.* options of both entry points, parsed once: mod_python passes them as PythonOption (a table
from req.get_options()), mod_wsgi as SetEnv (in environ). Both are mappings with .get."""

# option name -> (app.configure's keyword, default as written in httpd.conf)
OPTIONS = {
    "bench.dsn": ("dsn", ""),
    "bench.pool_size": ("pool_size", "1"),
    "bench.template_dir": ("template_dir", ""),
    "bench.leaky": ("leaky", "Off"),
}
# Written by bench for threaded servers and tests; passed on only when set (app.configure's defaults
# otherwise: 1 thread, no test-only routes).
OPTIONAL = {"bench.threads": "threads", "bench.test_sleep": "test_sleep", "bench.test_cpu_us": "test_cpu_us",
            "bench.pooler_dsn_file": "pooler_dsn_file"}


def parse(settings):
    """app.configure's keywords from `settings`: pool_size an int, leaky True only for On (any case)."""
    raw = {key: settings.get(name, default) for name, (key, default) in OPTIONS.items()}
    raw["pool_size"] = int(raw["pool_size"])
    raw["leaky"] = raw["leaky"].lower() == "on"
    given = {key: settings.get(name) for name, key in OPTIONAL.items() if settings.get(name) is not None}
    if "threads" in given:
        raw["threads"] = int(given["threads"])
    if "test_cpu_us" in given:  # tests only: CPU burnt in the handler per request (a known slowdown)
        raw["test_cpu_us"] = max(0, min(100000, int(given["test_cpu_us"])))
    if "pooler_dsn_file" in given:  # the bouncer variant: where the stack's PgBouncer DSN is
        raw["pooler_dsn_file"] = given["pooler_dsn_file"]
    if "test_sleep" in given:
        raw["test_sleep"] = given["test_sleep"].lower() == "on"
    return raw
