"""Where the database file lives: checked before SQLite touches it, and a corrupt file set
aside (renamed, never deleted) so that alertd starts afresh and the operator keeps the
evidence.

A path that is no regular file (a FIFO, whose open would block; `/dev/zero`, whose reads
never end; a directory) is refused at start with one line, never opened and never renamed:
renaming a device node would break the system for everyone else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from datetime import datetime
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
COMPANIONS = ("-wal", "-shm", "-journal")  # SQLite's own files next to the database


class Unusable(Exception):
    """Why the location cannot hold the database, in words for a one-line error."""


def check_location(path: Path) -> None:
    """Unusable unless `path` can be a database alertd reads and writes: its directory
    exists and is writable (SQLite writes its -wal and -shm files there), and the path is
    a regular file or nothing yet."""
    directory = path.parent
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        if exc.errno == errno.ENOENT or exc.errno == errno.ENOTDIR:
            info = None
        else:
            raise Unusable(f"cannot read {path}: {exc.strerror}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a plain file")
        raise Unusable(f"{path} is not a regular file ({kind})")
    if not directory.is_dir():
        missing = "is not a directory" if directory.exists() else "does not exist"
        raise Unusable(f"directory {directory} {missing}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise Unusable(f"cannot write in directory {directory}: {_why_not_writable(directory)}")
    if info is not None and not os.access(path, os.R_OK | os.W_OK):
        raise Unusable(f"cannot write {path}: {_why_not_writable(path)}")


def _why_not_writable(path: Path) -> str:
    with contextlib.suppress(OSError):
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    return "permission denied"


def set_aside(path: Path, now: datetime) -> Path:
    """Renames the database (and its -wal/-shm files, which belong to it) to
    `NAME.corrupt-20261121T235909Z` (with a counter if taken); returns the new path."""
    stem = f"{path.name}.corrupt-{now.strftime('%Y%m%dT%H%M%SZ')}"
    aside, counter = path.with_name(stem), 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{stem}-{counter}")
    path.rename(aside)
    for suffix in COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            companion.rename(aside.with_name(aside.name + suffix))
    return aside
