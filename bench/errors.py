"""The one error type for user mistakes; the CLI prints it as `error: ...` and exits 1."""


class UserError(Exception):
    """A mistake the user can fix (bad option, port in use, missing package).

    The message is one line naming the bad value and what is allowed.
    """
