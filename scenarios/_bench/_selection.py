"""Keep one measurement to one kind of endpoint: never silently run every User class at once.

What Locust 2.47 does by itself (main.py, `main()`): with no User class on the command line it runs
*all* available classes, here 19, spreading the users over naive, pooled and the ceilings; the numbers
would describe none of them. `--tags` only filters *tasks* (env.py `_filter_tasks_by_tags`), so every
class is still spawned and those left without tasks fail at start ("No tasks defined"). The web UI's
class picker (`--class-picker`) pre-selects all classes, and `/swarm` with no selection also means all
(web.py, `swarm()`).

So, at `init` (after options are parsed, before any user is spawned), on the master or local runner:

* classes named (`PooledDb`, or LOCUST_USER_CLASSES): run them as Locust does; if they span more than one
  variant, log a warning (explicit, so allowed).
* no class but `--tags`/`--exclude-tags`: run only the classes that have a task those tags select (so no
  class is spawned without tasks), warning if they span several variants.
* neither, headless or `--autostart`: stop with exit code 1 and a message listing the class names.
* neither, web UI: switch the class picker on and refuse to start (a message in the UI) while all
  classes are selected (the picker's default) or a selected class has no task matching `--tags`.

Workers are left alone: they spawn whatever classes the master dispatches, by name.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterable
from typing import Any

import psutil
from locust import events
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WorkerRunner

from ._vocabulary import CEILING_TAG, CEILINGS, VARIANTS, WORKLOADS, class_name

logger = logging.getLogger(__name__)


def has_selected_task(user_class: Any, tags: Iterable[str] | None, exclude_tags: Iterable[str] | None) -> bool:
    """Whether Locust's tag filter would leave `user_class` at least one task."""
    include, exclude = set(tags or ()), set(exclude_tags or ())
    for task in getattr(user_class, "tasks", []):
        task_tags = set(getattr(task, "locust_tag_set", ()))
        if include and not task_tags & include:
            continue
        if exclude and task_tags & exclude:
            continue
        return True
    return False


def variants_of(user_classes: Iterable[Any]) -> list[str]:
    """The distinct variants (or "ceiling") that a selection of classes covers."""
    return sorted({getattr(cls, "variant", None) or "ceiling" for cls in user_classes})


def class_table(available: Iterable[str]) -> str:
    """The class names as a grid: one line per workload, then the ceilings."""
    names = set(available)
    lines = []
    for workload in WORKLOADS:
        row = [class_name(workload, v) for v in VARIANTS if class_name(workload, v) in names]
        if row:
            lines.append("  " + "  ".join(row))
    ceilings = [class_name(c) for c in CEILINGS if class_name(c) in names]
    if ceilings:
        lines.append("  " + "  ".join(ceilings))
    others = sorted(names - {class_name(w, v) for w in WORKLOADS for v in VARIANTS} - set(ceilings))
    if others:
        lines.append("  " + "  ".join(others))
    return "\n".join(lines)


def no_class_message(available: Iterable[str]) -> str:
    return (
        "No User class named. Running all of them would mix naive, pooled and the ceilings in one "
        "measurement, so name the class(es) to run at the end of the command line, e.g.\n"
        "  locust -f scenarios --headless --host URL PooledDb\n"
        "or select them by tag (--tags pooled, --tags db). Available User classes:\n" + class_table(available)
    )


def _stop(message: str, *args: Any) -> None:
    """Log `message` and exit 1, taking down the workers that `--processes` already forked."""
    logger.error(message, *args)
    # Locust forks --processes workers before `init`, and its atexit clean-up (main.py, kill_workers)
    # mistakes the (0, 0) of waitpid(WNOHANG) for "exited", so it never signals them: they would wait
    # 60 s for a master heartbeat. They are this process's only children, so end them by pid.
    children = psutil.Process(os.getpid()).children()
    for child in children:
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    # wait until they have exited, but leave reaping them to Locust's atexit handler (it waitpid()s them)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_running(child) for child in children):
        time.sleep(0.05)
    sys.exit(1)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _warn_if_mixed(user_classes: list[Any]) -> None:
    variants = variants_of(user_classes)
    if len(variants) > 1:
        logger.warning(
            "The selected User classes span %s: Locust's per-name rows stay separate, but the per-PID "
            "steady-state numbers add them up",
            ", ".join(variants),
        )


def _install_swarm_guard(web_ui: Any, environment: Any) -> None:
    from flask import jsonify, request  # Flask comes with Locust; only needed with the web UI

    @web_ui.app.before_request
    def refuse_all_classes() -> Any:
        if request.method != "POST" or not request.path.rstrip("/").endswith("/swarm"):
            return None
        if not web_ui.userclass_picker_is_active:
            return None
        runner = environment.runner
        if runner is not None and runner.state in (STATE_RUNNING, STATE_SPAWNING):
            return None  # changing users of a running test keeps its classes (the dispatcher is not rebuilt)
        available = environment.available_user_classes or {}
        chosen = [name for name in request.form.getlist("user_classes") if name in available]
        if not chosen or set(available) <= set(chosen):
            message = (
                "Select the User class(es) to measure, e.g. only PooledDb: starting all of them would mix "
                "naive and pooled in one measurement."
            )
            return jsonify({"success": False, "message": message, "host": environment.host})
        opts = environment.parsed_options
        tags, exclude = getattr(opts, "tags", None), getattr(opts, "exclude_tags", None)
        if tags or exclude:
            idle = [n for n in chosen if not has_selected_task(available[n], tags, exclude)]
            if idle:
                message = f"{', '.join(idle)} has no task matching --tags/--exclude-tags; deselect it."
                return jsonify({"success": False, "message": message, "host": environment.host})
        _warn_if_mixed([available[n] for n in chosen])
        return None


@events.init.add_listener
def guard_selection(environment: Any, runner: Any = None, web_ui: Any = None, **_kwargs: Any) -> None:
    """Apply the selection rules in the module docstring."""
    opts = environment.parsed_options
    if opts is None or isinstance(runner, WorkerRunner) or getattr(opts, "worker", False):
        return
    named = list(getattr(opts, "user_classes", None) or [])
    tags, exclude = getattr(opts, "tags", None), getattr(opts, "exclude_tags", None)
    available = environment.available_user_classes or {c.__name__: c for c in environment.user_classes}

    if named:
        _warn_if_mixed(environment.user_classes)
    elif tags or exclude:
        keep = [c for c in environment.user_classes if has_selected_task(c, tags, exclude)]
        if not keep:
            _stop(
                "No User class has a task selected by --tags %s --exclude-tags %s. Tags: %s. User classes:\n%s",
                " ".join(tags or []) or "-",
                " ".join(exclude or []) or "-",
                " ".join([*WORKLOADS, *VARIANTS, *CEILINGS, CEILING_TAG]),
                class_table(available),
            )
        # in place: the runner reads environment.user_classes when it builds its dispatcher
        environment.user_classes[:] = keep
        logger.info("Selected by tags: %s", " ".join(c.__name__ for c in keep))
        _warn_if_mixed(keep)
    elif getattr(opts, "headless", False) or getattr(opts, "autostart", False):
        _stop(no_class_message(available))
    elif web_ui is not None and not web_ui.userclass_picker_is_active:
        web_ui.userclass_picker_is_active = True
        logger.info("No User class named: the web UI shows a class picker; select the class(es) to measure")

    if web_ui is not None:
        _install_swarm_guard(web_ui, environment)
