"""--app-data DIR (repeatable): a folder the application writes (its database file, logs, cache, uploads),
made writable for the serving processes' user for the stack's life and given back afterwards, never copied.

As root the children run as www-data: every entry under each folder is chowned to it (directories also
u+rwx, files u+rw). What each entry was (owner, group, mode) is written to the state folder first
(app-data.json), so `bench down` restores it even after a crashed or interrupted run. As another user the
children run as that user, who must already be able to write there: nothing is changed.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
from pathlib import Path

from bench.errors import UserError

RECORD = "app-data.json"


def check_dirs(given: list[str]) -> tuple[str, ...]:
    """--app-data values, checked: existing folders, as absolute paths, each once."""
    dirs: list[str] = []
    for text in given:
        path = Path(text).expanduser()
        if not path.is_dir():
            raise UserError(f"--app-data {text!r} is not a directory: give an existing folder the application "
                            "writes (it is made writable for the server's user for the run, never copied)")
        resolved = str(path.resolve())
        if resolved == "/" or resolved in dirs:
            raise UserError(f"--app-data {text!r}: give each application folder once, never /")
        dirs.append(resolved)
    return tuple(dirs)


def _entries(folder: str) -> list[str]:
    found = [folder]
    for root, dirnames, files in os.walk(folder):
        found += [os.path.join(root, n) for n in (*dirnames, *files)]
    return found


def refuse_pending(state: Path) -> None:
    """Never overwrite what the folders were with what a crashed run made them."""
    if (state / RECORD).exists():
        raise UserError(f"{state / RECORD} holds the owners of a previous run's --app-data folders, not yet given "
                        "back: run `bench down` first")


def grant(state: Path, dirs: tuple[str, ...], user: pwd.struct_passwd | None) -> None:
    """Make `dirs` writable for `user` (None: the current user serves, nothing to do), recording first."""
    if user is None or not dirs:
        return
    refuse_pending(state)
    record: list[tuple[str, int, int, int]] = []
    for folder in dirs:
        for path in _entries(folder):
            st = os.lstat(path)
            record.append((str(path), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
    state.mkdir(parents=True, exist_ok=True)
    (state / RECORD).write_text(json.dumps(record))
    for path, _, _, mode in record:
        os.lchown(path, user.pw_uid, user.pw_gid)
        if not os.path.islink(path):
            os.chmod(path, mode | (0o700 if os.path.isdir(path) else 0o600))


def restore(state: Path) -> int:
    """Give every recorded entry its owner, group and mode back; the number restored (0 without a record)."""
    f = state / RECORD
    if not f.exists():
        return 0
    record = json.loads(f.read_text())
    known = {path for path, *_ in record}
    tops = [(path, uid, gid) for path, uid, gid, _ in record if os.path.dirname(path) not in known]
    restored = 0
    for path, uid, gid, mode in record:
        try:
            os.lchown(path, uid, gid)
            if not os.path.islink(path):
                os.chmod(path, mode)
            restored += 1
        except FileNotFoundError:
            continue  # removed since (by the application): nothing to give back
    # What the application made there belongs to the folder's owner again (its modes are the application's).
    for top, uid, gid in tops:
        if os.path.isdir(top):
            for path in _entries(top)[1:]:
                if path not in known:
                    os.lchown(path, uid, gid)
    f.unlink()
    return restored
