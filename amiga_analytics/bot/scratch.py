"""Private scratch directories for snapshot copies, and the sweep of those a killed sync left behind.

A bot database at rest is read from a private copy in a temporary directory (see :mod:`.snapshot`). The
directory goes when the sync ends, even on an error; but a sync killed by SIGKILL (a cron ``timeout -s KILL``,
the OOM killer, a reboot) cannot clean up, and each such run would leave a copy of the whole bot database in
the temporary directory, forever.

So every scratch directory holds an open, exclusively locked ``.lock`` file for its whole life. The kernel
drops the lock when its process dies, however it dies, and in whatever PID namespace it ran. Before a new
directory is made, :func:`sweep` removes every ``amiga-bot-snapshot-*`` directory of this user whose lock it can
take: its owner is gone. A directory younger than :data:`GRACE_SECONDS` is left alone, so that a sync that has
just made its directory and not yet locked it is never swept from under it. Directories made by an older version
(no ``.lock``) are swept once they are a day old. Where ``fcntl`` is missing (Windows) nothing is swept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PREFIX = "amiga-bot-snapshot-"
LOCK = ".lock"
GRACE_SECONDS = 60
UNLOCKED_SECONDS = 24 * 3600  # a directory without a lock file (older versions): swept when this old


def _abandoned(directory: Path, now: float) -> bool:
    """True if ``directory`` is a scratch directory of this user whose sync is gone."""
    try:
        st = directory.stat()
    except OSError:
        return False
    if st.st_uid != os.getuid() or now - st.st_mtime < GRACE_SECONDS:
        return False
    lock = directory / LOCK
    if not lock.exists():
        return now - st.st_mtime >= UNLOCKED_SECONDS
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: its sync is running
    finally:
        os.close(fd)  # drops our lock too
    return True


def sweep(parent: Path | None = None) -> list[Path]:
    """Remove the scratch directories in ``parent`` (the temporary directory) whose sync died; return them."""
    if fcntl is None:
        return []
    parent = Path(parent or tempfile.gettempdir())
    now = time.time()
    removed = []
    for directory in sorted(parent.glob(f"{PREFIX}*")):
        if directory.is_dir() and not directory.is_symlink() and _abandoned(directory, now):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def scratch_directory(stack: ExitStack) -> Path:
    """A new private scratch directory, locked while ``stack`` is open and removed when it closes."""
    sweep()
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=PREFIX)))
    if fcntl is not None:
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        stack.callback(os.close, fd)  # runs before the directory's removal (callbacks run last-in, first-out)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return directory
