"""The SQLite store seen from outside the daemon, as an operator would: `sqlite3` on the file
alertd writes (read-only, beside the running daemon: WAL lets a reader in at any time)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from alertd.store.sqlite.rows import from_ms


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the database (none while it does not exist yet)."""
    if not db.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:  # not created yet: no such table
        if "no such table" in str(exc):
            return []
        raise


def delivered(db: Path, provider: str = "wallet", check: str = "balance") -> dict[str, datetime]:
    """What the store holds as sent for a check: destination -> when (empty until then)."""
    rows = query(
        db,
        "SELECT destination, at FROM sent WHERE provider = ? AND check_name = ?",
        provider,
        check,
    )
    return {destination: from_ms(at) for destination, at in rows}


def readings(db: Path, provider: str = "wallet") -> int:
    rows = query(db, "SELECT count(*) FROM readings WHERE provider = ?", provider)
    return int(rows[0][0]) if rows else 0


def notifications(db: Path, provider: str = "wallet") -> list[str]:
    rows = query(db, "SELECT title FROM notifications WHERE provider = ? ORDER BY at", provider)
    return [title for (title,) in rows]
