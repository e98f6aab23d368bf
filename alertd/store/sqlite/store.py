"""The embedded store (SPEC §6): one SQLite file, WAL, written by one thread off the loop.

The event loop only ever `submit`s (a dict and a deque under a lock, see `Backlog`); the
writer thread (`alertd.store.sqlite.writer`) commits what is queued, in one transaction at
a time, and retries what fails while the daemon keeps polling and alerting. Reads run on
their own thread and connection (`alertd.store.sqlite.reader`); WAL lets them run beside
the writes. With `synchronous=NORMAL`, a power cut may lose the last commits, never
consistency; a SIGKILL loses at most the batch in flight.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alertd.core.series import Sample
from alertd.observability.logging import get_logger
from alertd.store.backlog import Backlog
from alertd.store.base import History, ProviderChecks, Record, StoreError, StoreStatus
from alertd.store.rollup import hour_of
from alertd.store.sqlite import queries
from alertd.store.sqlite.opening import connect, fail, open_database
from alertd.store.sqlite.reader import Reader, ReadFailed, settle_soon
from alertd.store.sqlite.rows import state_of, to_ms
from alertd.store.sqlite.schema import SCHEMA_VERSION
from alertd.store.sqlite.writer import Compaction, Writer

MAX_BACKLOG = 20_000  # history records waiting while writes fail (about 10 MB)
OPEN_TIMEOUT = 60.0
CLOSE_TIMEOUT = 5.0
FLUSH_TIMEOUT = 30.0


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
        self._writer = Writer(self._backlog, clock, self.log, self._fail)
        self._reader = Reader(self._connect_reader, path)
        self._started = False

    def _fail(self, problem: str) -> StoreError:
        return fail(self.description, problem)

    def _connect_reader(self) -> sqlite3.Connection:
        conn = connect(self.path)
        conn.execute("PRAGMA query_only = 1")
        return conn

    def _running(self) -> bool:
        return self._started and not self._writer.stopped.is_set()

    async def open(self) -> list[str]:
        """The file is opened (and migrated, or set aside) on the writer thread, which then
        goes on writing."""
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[list[str]] = loop.create_future()

        def run() -> None:
            try:
                conn, found, problems = open_database(self.path, self.description, self.clock)
            except BaseException as exc:
                settle_soon(loop, opened, exc)
                self._writer.stopped.set()
                return
            if found != SCHEMA_VERSION:
                self.log.info("store_migrated", from_version=found, to_version=SCHEMA_VERSION)
            self._writer.health.extra = {
                "kind": "sqlite",
                "path": str(self.path),
                "schema": str(SCHEMA_VERSION),
            }
            settle_soon(loop, opened, problems)
            self._writer.run(conn)

        self._started = True
        name = f"alertd-write {self.path.name}"
        threading.Thread(target=run, name=name, daemon=True).start()
        try:
            return await asyncio.wait_for(opened, OPEN_TIMEOUT)
        except TimeoutError:
            raise self._fail(f"opening did not finish within {OPEN_TIMEOUT:g}s") from None

    def submit(self, record: Record) -> None:
        if not self._writer.closing:
            self._backlog.put(record)

    async def flush(self) -> None:
        loop = asyncio.get_running_loop()
        flushed: asyncio.Future[None] = loop.create_future()
        if not self._running():
            return
        if not self._backlog.wait_for_attempt(lambda: settle_soon(loop, flushed, None)):
            return
        self._writer.kick()  # a retry backoff waits no longer
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
        """In the writer thread, in batches between commits of submitted records."""
        if not self._running():
            return 0
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[int] = loop.create_future()
        cutoffs = [(name, to_ms(hour_of(now - keep))) for name, keep in sorted(retention.items())]
        job = Compaction(cutoffs, lambda result: settle_soon(loop, finished, result))
        if not self._writer.compact(job):
            raise self._fail("a compaction is already running")
        return await finished

    def status(self) -> StoreStatus:
        health = self._writer.health
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
        """The writer commits what is queued, once more, within CLOSE_TIMEOUT; a writer
        stuck on a dead disk is left behind (a daemon thread never delays the exit)."""
        self._reader.close()
        if not self._running():
            return
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()

        def wait_for_writer() -> None:
            self._writer.stopped.wait()
            settle_soon(loop, stopped, None)

        self._writer.kick(closing=True)
        threading.Thread(target=wait_for_writer, name="alertd-store-close", daemon=True).start()
        try:
            await asyncio.wait_for(stopped, CLOSE_TIMEOUT)
        except TimeoutError:
            self.log.error("store_close_timeout", backlog=len(self._backlog), waited=CLOSE_TIMEOUT)
