"""The embedded store (SPEC §6): one SQLite file, WAL, written by one thread off the loop.

The event loop only ever `submit`s (a dict and a deque under a lock, see `Backlog`); a
daemon thread, the writer, takes everything queued, commits it in one transaction, and
repeats at once: no artificial delay, so SIGKILL loses at most the batch in flight and the
file is never corrupt (SQLite's WAL). With `synchronous=NORMAL`, a power cut may also lose
the last commits, never consistency.

A write that fails (disk full, I/O error, the file gone read-only) is logged
(`store_write_failed` with SQLite's reason), counted, shown by `status()`, and retried with
backoff (1 s doubling to 30 s); meanwhile the daemon keeps polling and alerting, the
latest alert state of each provider is kept and written once the disk works again, and
readings beyond the backlog's bound are dropped and counted. Retention (`compact`) runs on
the same thread in bounded batches, between commits of submitted records.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alertd.core.series import Sample
from alertd.observability.logging import get_logger
from alertd.store.backlog import Backlog, Batch
from alertd.store.base import History, ProviderChecks, Record, StoreError, StoreStatus
from alertd.store.rollup import hour_of
from alertd.store.sqlite import queries
from alertd.store.sqlite.compact import fold_batch
from alertd.store.sqlite.location import Unusable, check_location, set_aside
from alertd.store.sqlite.reader import Reader, ReadFailed, settle_soon
from alertd.store.sqlite.rows import (
    Row,
    check_rows,
    event_row,
    notification_row,
    sample_row,
    state_of,
    to_ms,
)
from alertd.store.sqlite.schema import SCHEMA_VERSION, ForeignDatabase, NewerSchema, migrate
from alertd.text import printable

MAX_BACKLOG = 20_000  # history records waiting while writes fail (about 10 MB)
OPEN_TIMEOUT = 60.0
CLOSE_TIMEOUT = 5.0
FLUSH_TIMEOUT = 30.0
BUSY_TIMEOUT = 5.0  # another process holding a write lock (an operator's sqlite3 shell)
RETRY_FIRST, RETRY_MAX = 1.0, 30.0
_CORRUPT = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}


class _Corrupt(Exception):
    """SQLite's quick_check found damage: what it said."""


@dataclass(slots=True)
class _Compaction:
    cutoffs: list[tuple[str, int]]  # provider, cutoff in ms, still to do
    done: Callable[[int | BaseException], None]
    folded: int = 0


@dataclass(slots=True)
class _Health:
    problem: str | None = None
    since: datetime | None = None
    write_errors: int = 0
    last_commit: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


class SqliteStore:
    def __init__(
        self,
        path: Path,
        description: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        backlog: int = MAX_BACKLOG,
    ) -> None:
        self.path = path
        self.description = description
        self.clock = clock
        self.log = get_logger(store=description)
        self._backlog = Backlog(backlog)
        self._reader = Reader(self._connect_reader, path)
        self._health = _Health()
        self._compaction: _Compaction | None = None
        self._kick = False
        self._closing = False
        self._writer: threading.Thread | None = None
        self._stopped = threading.Event()

    # -- opening ------------------------------------------------------------------------------
    def _fail(self, problem: str) -> StoreError:
        return StoreError(f"store {self.description}: {problem}")

    async def open(self) -> list[str]:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[list[str]] = loop.create_future()

        def report(result: list[str] | BaseException) -> None:
            settle_soon(loop, opened, result)

        self._writer = threading.Thread(
            target=self._run, args=(report,), name=f"alertd-write {self.path.name}", daemon=True
        )
        self._writer.start()
        try:
            return await asyncio.wait_for(opened, OPEN_TIMEOUT)
        except TimeoutError:
            raise self._fail(f"opening did not finish within {OPEN_TIMEOUT:g}s") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _connect_reader(self) -> sqlite3.Connection:
        conn = self._connect()
        conn.execute("PRAGMA query_only = 1")
        return conn

    def _prepare(self) -> tuple[sqlite3.Connection, int]:
        conn = self._connect()
        try:
            # Read-only checks first: a file it refuses is left exactly as it was.
            verdict = str(conn.execute("PRAGMA quick_check(1)").fetchone()[0])
            if verdict != "ok":
                raise _Corrupt(printable(" ".join(verdict.split()), 120))
            found = migrate(conn)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise self._fail(f"SQLite could not use WAL here (journal mode {mode})")
            conn.execute("PRAGMA journal_size_limit = 67108864")
            return conn, found
        except BaseException:
            conn.close()
            raise

    def _open_database(self) -> tuple[sqlite3.Connection, list[str]]:
        """The writer's connection, the schema current; a corrupt file set aside."""
        try:
            check_location(self.path)
        except Unusable as exc:
            raise self._fail(str(exc)) from None
        problems = []
        try:
            try:
                conn, found = self._prepare()
            except (sqlite3.DatabaseError, _Corrupt) as exc:
                if isinstance(exc, sqlite3.DatabaseError) and _code(exc) not in _CORRUPT:
                    raise
                aside = set_aside(self.path, self.clock())
                problems.append(
                    f"store {self.description} is corrupt ({exc}); set aside as {aside.name},"
                    " starting with an empty store"
                )
                conn, found = self._prepare()
        except NewerSchema as exc:
            raise self._fail(
                f"the database has schema version {exc.version}, newer than this alertd knows"
                f" ({SCHEMA_VERSION}): upgrade alertd, or point store: at another file"
            ) from None
        except ForeignDatabase as exc:
            tables = ", ".join(exc.tables[:5])
            raise self._fail(
                f"{self.path} is a SQLite database but not alertd's (tables: {tables})"
            ) from None
        except (sqlite3.Error, OSError) as exc:
            raise self._fail(f"cannot open {self.path}: {_reason(exc)}") from None
        if found != SCHEMA_VERSION:
            self.log.info("store_migrated", from_version=found, to_version=SCHEMA_VERSION)
        self._health.extra = {
            "kind": "sqlite",
            "path": str(self.path),
            "schema": str(SCHEMA_VERSION),
        }
        return conn, problems

    # -- the writer thread ----------------------------------------------------------------------
    def _run(self, report: Callable[[list[str] | BaseException], None]) -> None:
        try:
            conn, problems = self._open_database()
        except BaseException as exc:
            report(exc)
            self._stopped.set()
            return
        report(problems)
        try:
            self._write_until_closed(conn)
        finally:
            conn.close()
            self._backlog.release_waiters()
            self._stopped.set()

    def _next(self, retry_at: float) -> tuple[Batch, bool]:
        """Waits for work (or the end of a retry backoff); returns the batch and whether
        alertd is closing."""
        cond = self._backlog.condition
        with cond:
            while True:
                ready = self._kick or time.monotonic() >= retry_at
                work = len(self._backlog) > 0 or self._compaction is not None
                if self._closing or (work and ready):
                    break
                cond.wait(max(retry_at - time.monotonic(), 0.01) if work else None)
            self._kick = False
            return self._backlog.take(), self._closing

    def _write_until_closed(self, conn: sqlite3.Connection) -> None:
        retry_at, delay = 0.0, RETRY_FIRST
        while True:
            batch, closing = self._next(retry_at)
            if batch:
                ok = self._commit(conn, batch)
            elif self._compaction is not None and not closing:
                ok = self._compact_step(conn, self._compaction)
            else:
                ok = True
            if ok:
                retry_at, delay = 0.0, RETRY_FIRST
            else:
                retry_at, delay = time.monotonic() + delay, min(delay * 2, RETRY_MAX)
            if closing and (not ok or not len(self._backlog)):
                break
        self._end_compaction(self._fail("closing"))

    def _end_compaction(self, result: int | BaseException) -> None:
        """The job is over (its count, or why not) before its caller hears of it, so the
        caller may start the next one at once."""
        with self._backlog.condition:
            job, self._compaction = self._compaction, None
        if job is not None:
            job.done(result)

    def _commit(self, conn: sqlite3.Connection, batch: Batch) -> bool:
        try:
            _write(conn, batch)
        except (sqlite3.Error, OSError) as exc:
            self._backlog.restore(batch)
            self._failed("writing", exc)
            return False
        finally:
            self._backlog.done(batch)
        self._succeeded()
        return True

    def _failed(self, doing: str, exc: BaseException) -> None:
        health = self._health
        reason = _reason(exc)
        if health.problem is None:
            health.since = self.clock()
        health.problem = f"{doing} failed: {reason}"
        health.write_errors += 1
        self.log.error(
            "store_write_failed",
            error=reason,
            doing=doing,
            backlog=len(self._backlog),
            dropped=self._backlog.dropped,
        )

    def _succeeded(self) -> None:
        health = self._health
        if health.problem is not None:
            self.log.info(
                "store_write_recovered", failures=health.write_errors, dropped=self._backlog.dropped
            )
        health.problem, health.since, health.last_commit = None, None, self.clock()

    def _compact_step(self, conn: sqlite3.Connection, job: _Compaction) -> bool:
        if not job.cutoffs:
            self._end_compaction(job.folded)
            return True
        provider, cutoff = job.cutoffs[0]
        try:
            folded = fold_batch(conn, provider, cutoff)
        except (sqlite3.Error, OSError) as exc:
            self._failed("compacting", exc)
            self._end_compaction(self._fail(f"compacting failed: {_reason(exc)}"))
            return False
        job.folded += folded
        if folded == 0:
            job.cutoffs.pop(0)
        self._succeeded()
        return True

    # -- the Store interface ----------------------------------------------------------------
    def submit(self, record: Record) -> None:
        if not self._closing:
            self._backlog.put(record)

    async def flush(self) -> None:
        loop = asyncio.get_running_loop()
        flushed: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            settle_soon(loop, flushed, None)

        if self._writer is None or self._stopped.is_set():
            return
        if not self._backlog.wait_for_attempt(wake):
            return
        with self._backlog.condition:
            self._kick = True  # a retry backoff waits no longer
            self._backlog.condition.notify()
        try:
            await asyncio.wait_for(flushed, FLUSH_TIMEOUT)
        except TimeoutError:
            self.log.warning("store_flush_timeout", backlog=len(self._backlog))

    async def _read(self, job: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            return await self._reader.run(job)
        except ReadFailed as exc:
            raise self._fail(f"cannot read: {exc}") from None

    async def load_state(self) -> ProviderChecks:
        checks, sent = await self._read(queries.state_rows)
        state, problems = state_of(checks, sent, self.clock())
        for problem in problems:
            self.log.error("store_state_ignored", problem=problem)
        return state

    async def load_samples(self, since: Mapping[str, datetime]) -> dict[str, list[Sample]]:
        wanted = {name: to_ms(at) for name, at in since.items()}
        result: dict[str, list[Sample]] = await self._read(
            lambda conn: queries.samples_since(conn, wanted)
        )
        return result

    async def history(
        self, provider: str, since: datetime, until: datetime | None = None
    ) -> History:
        start = to_ms(since)
        end = to_ms(until) if until is not None else None
        result: History = await self._read(lambda conn: queries.history(conn, provider, start, end))
        return result

    async def compact(self, now: datetime, retention: Mapping[str, timedelta]) -> int:
        if self._writer is None or self._stopped.is_set():
            return 0
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[int] = loop.create_future()

        def done(result: int | BaseException) -> None:
            settle_soon(loop, finished, result)

        cutoffs = [(name, to_ms(hour_of(now - keep))) for name, keep in sorted(retention.items())]
        with self._backlog.condition:
            if self._compaction is not None:
                raise self._fail("a compaction is already running")
            self._compaction = _Compaction(cutoffs, done)
            self._backlog.condition.notify()
        return await finished

    def status(self) -> StoreStatus:
        health = self._health
        problem = health.problem
        if problem is not None and health.since is not None:
            problem = f"{problem} (since {health.since:%Y-%m-%d %H:%M:%S} UTC)"
        return StoreStatus(
            ok=problem is None,
            problem=problem,
            backlog=len(self._backlog),
            dropped=self._backlog.dropped,
            write_errors=health.write_errors,
            last_commit=health.last_commit,
            extra=dict(health.extra),
        )

    async def close(self) -> None:
        self._reader.close()
        if self._writer is None or self._stopped.is_set():
            return
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()

        def wait_for_writer() -> None:  # a daemon thread: a hung disk never delays the exit
            self._stopped.wait()
            settle_soon(loop, stopped, None)

        with self._backlog.condition:
            self._closing = self._kick = True
            self._backlog.condition.notify()
        threading.Thread(target=wait_for_writer, name="alertd-store-close", daemon=True).start()
        try:
            await asyncio.wait_for(stopped, CLOSE_TIMEOUT)
        except TimeoutError:
            self.log.error("store_close_timeout", backlog=len(self._backlog), waited=CLOSE_TIMEOUT)


def _write(conn: sqlite3.Connection, batch: Batch) -> None:
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


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__
