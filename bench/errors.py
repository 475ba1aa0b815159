"""The one error type for user mistakes; the CLI prints it as `error: ...` and exits 1.

Defined in bench.record.errors (so reports need not import the rest of bench); re-exported here.
"""

from bench.record.errors import UserError

__all__ = ["UserError"]
