"""The reads, each a function of a connection run by the reader thread, each in one read
transaction (a consistent snapshot while the writer goes on) and each bounded in rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from alertd.core.series import Sample
from alertd.store.base import History
from alertd.store.rollup import HOUR
from alertd.store.sqlite.rows import (
    MS,
    Row,
    event_of,
    notification_of,
    sample_of,
    summary_of,
)

MAX_ROWS = 100_000  # per provider and kind in one read: the newest are kept
HOUR_MS = HOUR // MS


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")


def state_rows(conn: sqlite3.Connection) -> tuple[list[Row], list[Row]]:
    with snapshot(conn):
        checks = conn.execute(
            "SELECT provider, check_name, severity, detail, since, failures FROM checks"
        ).fetchall()
        sent = conn.execute(
            "SELECT provider, check_name, destination, severity, at FROM sent"
        ).fetchall()
    return checks, sent


def _newest(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> list[Row]:
    """`sql` (ordered newest first, with a LIMIT parameter last) read oldest first."""
    rows = conn.execute(sql, (*params, MAX_ROWS)).fetchall()
    rows.reverse()
    return rows


def samples_since(conn: sqlite3.Connection, since: Mapping[str, int]) -> dict[str, list[Sample]]:
    sql = (
        "SELECT provider, at, amount, unit, capacity FROM readings"
        " WHERE provider = ? AND at >= ? ORDER BY at DESC LIMIT ?"
    )
    with snapshot(conn):
        return {
            name: [sample_of(row) for row in _newest(conn, sql, (name, start))]
            for name, start in since.items()
        }


def history(conn: sqlite3.Connection, provider: str, start: int, end: int | None) -> History:
    end = end if end is not None else 2**62
    span = (provider, start, end)
    with snapshot(conn):
        samples = _newest(
            conn,
            "SELECT provider, at, amount, unit, capacity FROM readings"
            " WHERE provider = ? AND at >= ? AND at <= ? ORDER BY at DESC LIMIT ?",
            span,
        )
        summaries = _newest(
            conn,
            "SELECT provider, hour, unit, first, last, low, high, spent, readings"
            " FROM summaries WHERE provider = ? AND hour > ? AND hour <= ?"
            " ORDER BY hour DESC LIMIT ?",
            (provider, start - HOUR_MS, end),
        )
        events = _newest(
            conn,
            "SELECT provider, at, kind, amount, balance FROM events"
            " WHERE provider = ? AND at >= ? AND at <= ? ORDER BY at DESC LIMIT ?",
            span,
        )
        notifications = _newest(
            conn,
            "SELECT provider, at, check_name, destination, reason, severity, title"
            " FROM notifications WHERE provider = ? AND at >= ? AND at <= ?"
            " ORDER BY at DESC LIMIT ?",
            span,
        )
    return History(
        provider,
        samples=tuple(sample_of(r) for r in samples),
        summaries=tuple(summary_of(r) for r in summaries),
        events=tuple(event_of(r) for r in events),
        notifications=tuple(notification_of(r) for r in notifications),
    )
