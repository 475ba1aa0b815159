"""Where things live: the repository, the state folder of a running stack, the run folders (and their names)."""

import hashlib
import os
import time
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


def new_run_folder(kind: str = "") -> Path:
    """A new, empty run folder: runs/<YYYYmmdd-HHMMSS>[-<kind>][-<n>] ("quick", "sessions", "tune", ...).

    The one place run folders are named, so `bench run`, `bench sessions` and `bench tune` sort together by
    time and never share a folder: two runs started in the same second get -2, -3, ... (mkdir without
    exist_ok is the check, so two processes cannot both take a name)."""
    base = check_runs_dir()
    base.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%d-%H%M%S") + (f"-{kind}" if kind else "")
    folder, n = base / name, 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
            folder = base / f"{name}-{n}"
