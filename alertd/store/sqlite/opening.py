"""Opening the database file: where it is checked, a damaged file set aside, the schema
brought up to date, WAL switched on. Every way it can fail ends in one StoreError line.

Read-only checks come first (SQLite's `quick_check`, the schema version), so a file that
is refused (newer, someone else's) is left exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from alertd.store.base import StoreError
from alertd.store.sqlite.location import Unusable, check_location, set_aside
from alertd.store.sqlite.schema import SCHEMA_VERSION, ForeignDatabase, NewerSchema, migrate
from alertd.text import printable

BUSY_TIMEOUT = 5.0  # another process holding a write lock (an operator's sqlite3 shell)
_CORRUPT = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}


class _Corrupt(Exception):
    """SQLite's quick_check found damage: what it said."""


def fail(description: str, problem: str) -> StoreError:
    return StoreError(f"store {description}: {problem}")


def reason(exc: BaseException) -> str:
    """An error in words for a log line: SQLite's message, or the OS's."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (alertd says BEGIN itself), WAL's usual durability."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _prepare(path: Path, description: str) -> tuple[sqlite3.Connection, int]:
    conn = connect(path)
    try:
        verdict = str(conn.execute("PRAGMA quick_check(1)").fetchone()[0])
        if verdict != "ok":
            raise _Corrupt(printable(" ".join(verdict.split()), 120))
        found = migrate(conn)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise fail(description, f"SQLite could not use WAL here (journal mode {mode})")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        return conn, found
    except BaseException:
        conn.close()
        raise


def _prepare_or_set_aside(
    path: Path, description: str, clock: Callable[[], datetime]
) -> tuple[sqlite3.Connection, int, list[str]]:
    try:
        conn, found = _prepare(path, description)
        return conn, found, []
    except (sqlite3.DatabaseError, _Corrupt) as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if isinstance(exc, sqlite3.DatabaseError) and code not in _CORRUPT:
            raise
        aside = set_aside(path, clock())
        problem = (
            f"store {description} is corrupt ({exc}); set aside as {aside.name},"
            " starting with an empty store"
        )
    conn, found = _prepare(path, description)
    return conn, found, [problem]


def open_database(
    path: Path, description: str, clock: Callable[[], datetime]
) -> tuple[sqlite3.Connection, int, list[str]]:
    """The writer's connection with the schema current, the schema version found, and the
    problems that did not stop it (a corrupt file set aside). StoreError otherwise."""
    try:
        check_location(path)
        return _prepare_or_set_aside(path, description, clock)
    except Unusable as exc:
        raise fail(description, str(exc)) from None
    except NewerSchema as exc:
        raise fail(
            description,
            f"the database has schema version {exc.version}, newer than this alertd knows"
            f" ({SCHEMA_VERSION}): upgrade alertd, or point store: at another file",
        ) from None
    except ForeignDatabase as exc:
        tables = ", ".join(exc.tables[:5])
        raise fail(
            description, f"{path} is a SQLite database but not alertd's (tables: {tables})"
        ) from None
    except (sqlite3.Error, OSError) as exc:
        raise fail(description, f"cannot open {path}: {reason(exc)}") from None
