"""Retention in SQLite: raw readings older than a provider's `history_retention` folded into
hourly summaries (`alertd.store.rollup`), in bounded batches.

Each `fold_batch` is one write transaction over at most about `BATCH` readings of one
provider, whole hours only (an hour is never split between two summaries by a batch
boundary), so the writer thread can commit submitted records between batches and a crash
loses nothing: a batch's summaries and the deletion of its readings commit together.
"""

from __future__ import annotations

import sqlite3

from alertd.store.rollup import HOUR, closing, merged, summarize
from alertd.store.sqlite.rows import MS, sample_of, summary_of, summary_row

BATCH = 5000
HOUR_MS = HOUR // MS

_READINGS = "SELECT provider, at, amount, unit, capacity FROM readings"
_SUMMARIES = "SELECT provider, hour, unit, first, last, low, high, spent, readings FROM summaries"


def fold_batch(conn: sqlite3.Connection, provider: str, cutoff_ms: int) -> int:
    """Folds the oldest batch of `provider`'s readings before `cutoff_ms` (an hour boundary);
    returns how many readings it folded (0: nothing left to fold)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = _batch(conn, provider, cutoff_ms)
        if rows:
            _fold(conn, provider, rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(rows)


def _batch(conn: sqlite3.Connection, provider: str, cutoff_ms: int) -> list[tuple[object, ...]]:
    rows = conn.execute(
        f"{_READINGS} WHERE provider = ? AND at < ? ORDER BY at LIMIT ?",
        (provider, cutoff_ms, BATCH),
    ).fetchall()
    if len(rows) < BATCH:
        return rows
    first_hour = rows[0][1] - rows[0][1] % HOUR_MS
    last_hour = rows[-1][1] - rows[-1][1] % HOUR_MS
    if last_hour > first_hour:  # leave the last, maybe partial, hour to the next batch
        return [row for row in rows if row[1] < last_hour]
    return conn.execute(  # one hour holds more than a batch: that whole hour
        f"{_READINGS} WHERE provider = ? AND at >= ? AND at < ? ORDER BY at",
        (provider, first_hour, min(first_hour + HOUR_MS, cutoff_ms)),
    ).fetchall()


def _fold(conn: sqlite3.Connection, provider: str, rows: list[tuple[object, ...]]) -> None:
    samples = [sample_of(row) for row in rows]
    first_ms, last_ms = rows[0][1], rows[-1][1]
    assert isinstance(first_ms, int)
    assert isinstance(last_ms, int)
    first_hour = first_ms - first_ms % HOUR_MS
    previous = conn.execute(
        f"{_SUMMARIES} WHERE provider = ? AND hour < ? ORDER BY hour DESC LIMIT 1",
        (provider, first_hour),
    ).fetchone()
    before = closing(summary_of(previous)) if previous else None
    existing = [
        summary_of(row)
        for row in conn.execute(
            f"{_SUMMARIES} WHERE provider = ? AND hour >= ? AND hour <= ?",
            (provider, first_hour, last_ms),
        )
    ]
    summaries = merged(existing, summarize(samples, before))
    conn.executemany(
        "INSERT OR REPLACE INTO summaries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [summary_row(provider, s) for s in summaries],
    )
    conn.execute(
        "DELETE FROM readings WHERE provider = ? AND at >= ? AND at <= ?",
        (provider, first_ms, last_ms),
    )
