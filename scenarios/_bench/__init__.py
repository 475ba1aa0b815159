"""The code the locustfiles of scenarios/ share (locustfile.py, and `_locustfile_app.py`/`_locustfile_paths.py`
for `bench --app`). Locust's interpreter runs it, so it imports nothing of bench; it is importable because
Locust puts a locustfile's folder on sys.path while it loads it.

Every module is `_`-prefixed: given a folder (`locust -f scenarios`), Locust loads each .py file of the whole
tree whose name does not start with `_` as a locustfile, so a module named `listener.py` here would be
loaded as one. This file imports nothing, so a test can import a Locust-free module (`_histogram`,
`_recorder`, `_files`) without gevent.

Imports go one way, with no circle: the Locust-free data and bookkeeping (`_vocabulary`, `_files`,
`_histogram`, `_live`, `_recorder`, `_perprocess`, `_csv`, `_chart`, `_thresholds`) and `_options`,
`_bucketing` at the bottom; the open model `_open`, the class-selection guard `_selection` and the User classes
`_users` over them; the per-PID `_listener` over those; `_gate`, `_control` and `_webui`, which read the
listener, on top.

| module | job |
|---|---|
| `_vocabulary.py` | the pinned copy of bench.vocabulary: variants, workloads, ceilings, sessions, class names |
| `_users.py` | the User classes' shared code: one FastHttpUser per workload x variant, their response checks |
| `_options.py` | the suite's Locust options (--queries, --bench-warmup, --bench-out, --bench-rate ...) |
| `_selection.py` | one measurement, one kind of endpoint: the class-selection guard |
| `_open.py` | the open model (--bench-rate): requests started on a schedule |
| `_listener.py` | per-PID steady-state statistics from X-Bench-Pid, merged across Locust processes |
| `_recorder.py`, `_live.py`, `_histogram.py` | per-PID bookkeeping, counters and the fine latency histogram |
| `_perprocess.py`, `_csv.py`, `_chart.py`, `_webui.py` | the per-process view, its CSV files, chart and web UI tab |
| `_bucketing.py` | finer response-time buckets for Locust's own statistics |
| `_gate.py`, `_thresholds.py` | --bench-fail-on and its grammar (the one home; bench/load/thresholds.py loads it) |
| `_control.py` | the control channel of the master `bench run --workers` starts once |
| `_files.py` | files written atomically |
"""
