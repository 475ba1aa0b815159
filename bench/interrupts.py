"""Ctrl-C and SIGTERM reach the run, even when they land in a finalizer.

Python runs a signal's handler in the main thread at its next bytecode, wherever that is. If that is a
`__del__` (a dropped Popen's, a generator's close), the KeyboardInterrupt the handler raises cannot propagate:
Python prints "Exception ignored in ..." and goes on as if no signal had come (a SIGTERMed `bench run` once
finished all its trials and exited 0). `sys.unraisablehook` sees that lost interrupt, and it is delivered
again, from a short timer, once the main thread is back in ordinary code.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

REDELIVER_S = 0.05  # long enough for the finalizer to have returned
_active = False


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _again() -> None:
    if _active:
        # as a SIGTERM, whose handler is ours (SIGINT is ignored in a shell's background job)
        _thread.interrupt_main(signal.SIGTERM)


def _hook(previous: Any) -> Any:
    def handle(unraisable: Any) -> None:
        if _active and unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            timer = threading.Timer(REDELIVER_S, _again)
            timer.daemon = True
            timer.start()
            return  # not printed: it is delivered again
        previous(unraisable)

    return handle


@contextmanager
def delivered() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt like Ctrl-C, and neither is lost in a finalizer, inside this block."""
    global _active
    previous_handler = signal.signal(signal.SIGTERM, _sigterm)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _hook(previous_hook)
    _active = True
    try:
        yield
    finally:
        _active = False
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous_handler)
