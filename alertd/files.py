"""Reading a file alertd is told to read (config, secret, state) without trusting the path.

A path can name a FIFO (an open that blocks for ever), `/dev/zero` (a read that never ends)
or a file of gigabytes. `read_regular` opens without blocking, refuses anything but a regular
file, and reads at most `limit` bytes: it always returns or raises, quickly.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnreadableFile(Exception):
    """Why a file was not read, in words fit for a one-line error (never its content)."""


class RefusedFile(UnreadableFile):
    """The file could be read but is not one to trust: not a regular file, or too large."""


def read_regular(path: Path, limit: int) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; else UnreadableFile.

    Symlinks are followed (Kubernetes secrets and config maps are symlinks) but the file they
    lead to must be regular. FileNotFoundError passes through for callers that treat a
    missing file differently.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(exc.strerror or type(exc).__name__) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):  # nothing to set aside: a mistake in the path
            raise UnreadableFile("it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise RefusedFile(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise RefusedFile(f"larger than {_size(limit)} ({_size(info.st_size)})")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # the size can change between fstat and read
            chunk = os.read(fd, min(65536, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise RefusedFile(f"larger than {_size(limit)}")
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or type(exc).__name__) from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _size(count: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:g} {unit}" if count % size == 0 else f"{count / size:.1f} {unit}"
    return f"{count} bytes"
