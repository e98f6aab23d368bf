"""The one thread that writes the SQLite file: it takes everything queued in the `Backlog`,
commits it in one transaction and starts again at once (no artificial delay: SIGKILL loses
at most the batch in flight). Retention batches run on it too, between commits.

A commit that fails (disk full, I/O error, a lock held too long) puts its batch back,
is logged (`store_write_failed` with SQLite's reason) and counted in `health`, and is
retried after 1 s, doubling to 30 s; `kick()` (a flush, the close) retries at once.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alertd.store.backlog import Backlog, Batch
from alertd.store.sqlite.compact import fold_batch
from alertd.store.sqlite.opening import reason
from alertd.store.sqlite.rows import Row, check_rows, event_row, notification_row, sample_row

RETRY_FIRST, RETRY_MAX = 1.0, 30.0
Report = Callable[[Any], None]  # a result, or the exception that ended the job


@dataclass(slots=True)
class Compaction:
    cutoffs: list[tuple[str, int]]  # provider, cutoff in ms: still to do
    done: Report
    folded: int = 0


@dataclass(slots=True)
class Health:
    problem: str | None = None
    since: datetime | None = None
    write_errors: int = 0
    last_commit: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Writer:
    def __init__(
        self,
        backlog: Backlog,
        clock: Callable[[], datetime],
        log: Any,
        fail: Callable[[str], BaseException],
    ) -> None:
        self.backlog = backlog
        self.clock = clock
        self.log = log
        self.health = Health()
        self.stopped = threading.Event()
        self._fail = fail
        self._compaction: Compaction | None = None
        self._kick = False
        self._closing = False

    # -- asked from the event loop ------------------------------------------------------------
    def kick(self, closing: bool = False) -> None:
        """Work now, even during a retry backoff; with `closing`, for the last time."""
        with self.backlog.condition:
            self._kick = True
            self._closing = self._closing or closing
            self.backlog.condition.notify()

    @property
    def closing(self) -> bool:
        return self._closing

    def compact(self, job: Compaction) -> bool:
        """Starts a compaction; False when one is already running."""
        with self.backlog.condition:
            if self._compaction is not None:
                return False
            self._compaction = job
            self.backlog.condition.notify()
            return True

    # -- the thread ----------------------------------------------------------------------------
    def run(self, conn: sqlite3.Connection) -> None:
        try:
            self._write_until_closed(conn)
        finally:
            conn.close()
            self._end_compaction(self._fail("closing"))
            self.backlog.release_waiters()
            self.stopped.set()

    def _next(self, retry_at: float) -> tuple[Batch, Compaction | None, bool]:
        """Waits for work (past a retry backoff, unless kicked): the batch, the compaction
        under way, and whether alertd is closing."""
        cond = self.backlog.condition
        with cond:
            while True:
                ready = self._kick or time.monotonic() >= retry_at
                work = len(self.backlog) > 0 or self._compaction is not None
                if self._closing or (work and ready):
                    break
                cond.wait(max(retry_at - time.monotonic(), 0.01) if work else None)
            self._kick = False
            return self.backlog.take(), self._compaction, self._closing

    def _write_until_closed(self, conn: sqlite3.Connection) -> None:
        retry_at, delay = 0.0, RETRY_FIRST
        while True:
            batch, compaction, closing = self._next(retry_at)
            if batch:
                ok = self._commit(conn, batch)
            elif compaction is not None and not closing:
                ok = self._compact_step(conn, compaction)
            else:
                ok = True
            if ok:
                retry_at, delay = 0.0, RETRY_FIRST
            else:
                retry_at, delay = time.monotonic() + delay, min(delay * 2, RETRY_MAX)
            if closing and (not ok or not len(self.backlog)):
                return

    def _commit(self, conn: sqlite3.Connection, batch: Batch) -> bool:
        try:
            write(conn, batch)
        except (sqlite3.Error, OSError) as exc:
            self.backlog.restore(batch)
            self._failed("writing", exc)
            return False
        finally:
            self.backlog.done(batch)
        self._succeeded()
        return True

    def _compact_step(self, conn: sqlite3.Connection, job: Compaction) -> bool:
        if not job.cutoffs:
            self._end_compaction(job.folded)
            return True
        provider, cutoff = job.cutoffs[0]
        try:
            folded = fold_batch(conn, provider, cutoff)
        except (sqlite3.Error, OSError) as exc:
            self._failed("compacting", exc)
            self._end_compaction(self._fail(f"compacting failed: {reason(exc)}"))
            return False
        job.folded += folded
        if folded == 0:
            job.cutoffs.pop(0)
        self._succeeded()
        return True

    def _end_compaction(self, result: int | BaseException) -> None:
        """The job is over before its caller hears of it, so it may start the next at once."""
        with self.backlog.condition:
            job, self._compaction = self._compaction, None
        if job is not None:
            job.done(result)

    def _failed(self, doing: str, exc: BaseException) -> None:
        health = self.health
        why = reason(exc)
        if health.problem is None:
            health.since = self.clock()
        health.problem = f"{doing} failed: {why}"
        health.write_errors += 1
        self.log.error(
            "store_write_failed",
            error=why,
            doing=doing,
            backlog=len(self.backlog),
            dropped=self.backlog.dropped,
        )

    def _succeeded(self) -> None:
        health = self.health
        if health.problem is not None:
            self.log.info(
                "store_write_recovered", failures=health.write_errors, dropped=self.backlog.dropped
            )
        health.problem, health.since, health.last_commit = None, None, self.clock()


def write(conn: sqlite3.Connection, batch: Batch) -> None:
    """One transaction: the snapshots replace each provider's checks, history appends."""
    samples: list[Row] = []
    events: list[Row] = []
    notifications: list[Row] = []
    for record in batch.records:
        if record.sample is not None:
            samples.append(sample_row(record.provider, record.sample))
        events.extend(event_row(record.provider, e) for e in record.events)
        notifications.extend(notification_row(n) for n in record.sent)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for provider, checks in batch.checks.items():
            states, sent = check_rows(provider, checks)
            conn.execute("DELETE FROM checks WHERE provider = ?", (provider,))
            conn.execute("DELETE FROM sent WHERE provider = ?", (provider,))
            conn.executemany("INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?)", states)
            conn.executemany("INSERT INTO sent VALUES (?, ?, ?, ?, ?)", sent)
        conn.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?)", samples)
        conn.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?)", events)
        conn.executemany(
            "INSERT OR IGNORE INTO notifications VALUES (?, ?, ?, ?, ?, ?, ?)", notifications
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
