"""Where things live: the repository, the state folder of a running stack, the run folders."""

import hashlib
import os
from pathlib import Path

from bench.record.files import check_writable

REPO = Path(__file__).resolve().parent.parent
HANDLERS = REPO / "handlers"


def _reachable_by_others(path: Path) -> bool:
    """True when every ancestor is searchable by other users (the Apache and PostgreSQL accounts)."""
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            return False
    return True


def state_dir() -> Path:
    """The state folder: $BENCH_STATE_DIR, else .bench in the repository.

    As root the servers run as unprivileged accounts that must reach this folder; when the checkout
    sits under a private home (mode 700) we fall back to a folder under /var/tmp named after it.
    """
    if os.environ.get("BENCH_STATE_DIR"):
        return Path(os.environ["BENCH_STATE_DIR"]).resolve()
    default = REPO / ".bench"
    if os.geteuid() != 0 or _reachable_by_others(REPO):
        return default
    tag = hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
    return Path("/var/tmp") / f"modpython-bench-{tag}"


def runs_dir() -> Path:
    return Path(os.environ.get("BENCH_RUNS_DIR", REPO / "runs")).resolve()


def check_runs_dir() -> Path:
    """The runs folder, once it is known that run folders can be written there (UserError otherwise):
    checked before a stack starts, so an unwritable folder costs nothing."""
    return check_writable(runs_dir(), "; set BENCH_RUNS_DIR to a writable folder")
