"""The "Per process" tab of Locust's web UI, and its routes, through Locust's own extension points.

* `web_ui.template_args` gains `extended_tabs`, `extended_tables` and `extended_csv_files` (Locust merges
  its own arguments over ours on every page load, so ours stay): a "Per process" tab holding a table, and
  two links under "Download Data". The tab is a plain table (Locust's React UI renders text cells only;
  it has no chart or link hook for extensions), so the chart is a page of its own, linked there.
* The table's rows travel with Locust's own polling of `/stats/requests` (every 2 s while a test runs) as
  `extended_stats`, added in an `after_request` hook, as in Locust's `examples/extend_web_ui.py`.
* Routes: `/per-process` (JSON, `_perprocess`), `/per-process/chart` (HTML with an inline SVG,
  `_chart`), `/per-process/csv` (the steady-window CSV of `_csv`, for download), under Locust's
  `--web-base-path` like Locust's own routes (`--web-base-path /locust`: `/locust/per-process`).

In distributed mode all of this runs on the master, from the data merged from the workers' reports.
"""

from __future__ import annotations

import json
import time
from typing import Any

from locust import events
from locust.runners import WorkerRunner

from ._chart import chart_page
from ._csv import STEADY_HEADER, steady_rows, to_text
from ._listener import current_view, selection, state
from ._perprocess import selection_text
from ._recorder import NO_PID

TAB_KEY = "per-process"
# (row key, column title); the UI camel-cases both the structure keys and the row keys the same way
COLUMNS = (
    ("pid", "PID"),
    ("variants", "Variant"),
    ("requests", "Requests"),
    ("failures", "Failures"),
    ("cold", "Cold"),
    ("current_rps", "Current req/s"),
    ("steady_rps", "Steady req/s"),
    ("p50_ms", "p50 ms (steady)"),
    ("p99_ms", "p99 ms (steady)"),
    ("last_seen_time", "Last seen"),
)


def _table_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    # null would print nothing in the UI; "-" says "no data yet"
    return [{key: ("-" if row.get(key) is None else row[key]) for key, _title in COLUMNS} for row in view["rows"]]


def install(environment: Any, web_ui: Any) -> None:
    """Add the tab, the download links and the routes to Locust's web UI (before it starts serving)."""
    from flask import Response, jsonify, request  # comes with Locust; only needed with the web UI

    web_ui.template_args.update(
        extended_tabs=[{"title": "Per process", "key": TAB_KEY}],
        extended_tables=[{"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in COLUMNS]}],
        extended_csv_files=[
            {"href": "./per-process/csv", "title": "Download per-process CSV (steady window)"},
            {"href": "./per-process/chart", "title": "Per-process requests/s chart"},
        ],
    )
    app = web_ui.app
    opts = environment.parsed_options
    base = (getattr(opts, "web_base_path", None) or "").rstrip("/")  # Locust's routes live under it

    @app.after_request
    def add_per_process_rows(response: Any) -> Any:
        if request.path.rstrip("/") != f"{base}/stats/requests" or response.status_code != 200 or not response.is_json:
            return response
        data = response.get_json()
        data["extended_stats"] = [{"key": TAB_KEY, "data": _table_rows(current_view(environment))}]
        response.set_data(json.dumps(data))
        return response

    @app.route(f"{base}/per-process")
    def per_process_json() -> Any:
        return jsonify(current_view(environment))

    @app.route(f"{base}/per-process/chart")
    def per_process_chart() -> Any:
        view = current_view(environment)
        series = {row["pid"]: state.merger.live[row["pid"]] for row in view["rows"] if row["pid"] in state.merger.live}
        series.pop(NO_PID, None)
        seconds = [sec for counts in series.values() for sec in counts.seconds]
        start = int(max(state.start_time, state.merger.reset_at or 0.0))
        # the current second is still filling up: leave it out while the test runs
        end = int(time.time()) if view["running"] else (max(seconds) + 1 if seconds else start)
        measures = view["rows"][-1]["variants"]
        caption = f"Selection: {measures}. Refreshes every 2 s while a test runs."
        return Response(chart_page(series, start, end, caption, view["running"]), mimetype="text/html")

    @app.route(f"{base}/per-process/csv")
    def per_process_csv() -> Any:
        view = current_view(environment)
        measures, _warning = selection_text(*selection(environment))
        text = to_text(STEADY_HEADER, steady_rows(state.merger, (view["window"][0], view["window"][1]), measures))
        response = Response(text, mimetype="text/csv")
        response.headers["Content-Disposition"] = "attachment;filename=per_process.csv"
        return response


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, web_ui: Any = None, **_kwargs: Any) -> None:
    if web_ui is not None and not isinstance(runner, WorkerRunner):
        install(environment, web_ui)
