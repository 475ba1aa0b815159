"""The one error type for user mistakes, and the argument parser that raises it.

It lives in the record core so that `reports` can raise and catch it without importing the rest of
`bench`; `bench.errors` re-exports it for the orchestrator's modules.
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class UserError(Exception):
    """A mistake the user can fix (bad option, port in use, missing package).

    The message is one line naming the bad value and what is allowed.
    """


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a bad option; the suite's rule is one error type, printed once, exit 1."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see {self.prog} --help)")
