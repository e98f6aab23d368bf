"""The SQLite schema, versioned with `PRAGMA user_version`: an ordered list of migrations
from the first version on. Opening a database applies the ones it lacks, in one
transaction, so a crash mid-migration leaves the old version whole.

Time series are `WITHOUT ROWID` tables keyed `(provider, at)`: the primary key is the only
index, rows of one provider lie together in time order. Times are integer milliseconds
since 1970-01-01 UTC; money is text (`str(Decimal)`), which reads back exactly.
"""

from __future__ import annotations

import sqlite3

V1 = (
    # every reading: a time series per provider
    """CREATE TABLE readings (
        provider TEXT NOT NULL,
        at INTEGER NOT NULL,
        amount TEXT NOT NULL,
        unit TEXT NOT NULL,
        capacity TEXT,
        PRIMARY KEY (provider, at)
    ) WITHOUT ROWID""",
    # alert state: one row per (provider, check)
    """CREATE TABLE checks (
        provider TEXT NOT NULL,
        check_name TEXT NOT NULL,
        severity TEXT NOT NULL,
        detail TEXT NOT NULL,
        since INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        PRIMARY KEY (provider, check_name)
    ) WITHOUT ROWID""",
    # what each destination was last told about a check (CheckState.sent)
    """CREATE TABLE sent (
        provider TEXT NOT NULL,
        check_name TEXT NOT NULL,
        destination TEXT NOT NULL,
        severity TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (provider, check_name, destination)
    ) WITHOUT ROWID""",
)

V2 = (
    # rises of the balance: top-ups and resets
    """CREATE TABLE events (
        provider TEXT NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        amount TEXT NOT NULL,
        balance TEXT NOT NULL,
        PRIMARY KEY (provider, at)
    ) WITHOUT ROWID""",
    # readings older than history_retention, one row per hour (`hour` in milliseconds)
    """CREATE TABLE summaries (
        provider TEXT NOT NULL,
        hour INTEGER NOT NULL,
        unit TEXT NOT NULL,
        first TEXT NOT NULL,
        last TEXT NOT NULL,
        low TEXT NOT NULL,
        high TEXT NOT NULL,
        spent TEXT NOT NULL,
        readings INTEGER NOT NULL,
        PRIMARY KEY (provider, hour)
    ) WITHOUT ROWID""",
    # the notification log: every notification that went out (append-only)
    """CREATE TABLE notifications (
        provider TEXT NOT NULL,
        at INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        destination TEXT NOT NULL,
        reason TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        PRIMARY KEY (provider, at, check_name, destination)
    ) WITHOUT ROWID""",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (V1, V2)
SCHEMA_VERSION = len(MIGRATIONS)


class NewerSchema(Exception):
    """The database was written by a newer alertd: opening it could lose what it knows."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


class ForeignDatabase(Exception):
    """A SQLite database with tables but no alertd schema version: someone else's file."""

    def __init__(self, tables: list[str]) -> None:
        super().__init__(tables)
        self.tables = tables


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Brings the schema to version `target` (in autocommit mode: one transaction here);
    returns the version it found. NewerSchema or ForeignDatabase leave the file untouched."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise NewerSchema(found)
        if found == 0:
            tables = [
                str(row[0])
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            if tables:
                raise ForeignDatabase(tables)
        for statements in MIGRATIONS[found:target]:
            for statement in statements:
                conn.execute(statement)
        if target > found:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found
