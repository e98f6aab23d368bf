"""The PostgreSQL store (SPEC §6-7): the same interface and behaviour as the SQLite store,
shared by HA replicas, with psycopg 3 (async) and a bounded psycopg_pool.

Writes: `submit` hands records to a `Backlog` (alert state coalesces per provider and always
survives; history is bounded, the oldest given up and counted); one writer task commits
everything waiting as one transaction, and when the database does not answer it keeps the
batch and tries again with backoff (1 s doubling to 30 s). A write is *fenced* (SPEC §7):
with `fence` set (the HA leader's holder and epoch), the transaction first reads the lease
row (`FOR SHARE`, so a takeover waits for it) and gives the batch up when another holder has
a newer epoch: a deposed leader's late writes never overwrite its successor's.

Pool sizing (`pool_size`, default 4; `min_size` 1): the writer holds one connection while it
commits, reads (start-up load, the status page's history) and claims take one each for a
statement; the HA lease has its own connection outside the pool. So each replica opens at
most `pool_size + 1` sessions: with N replicas, PostgreSQL's `max_connections` (or the
PgBouncer pool) needs N x 5 plus what else uses the database. A caller waits at most
`POOL_WAIT_S` for a connection, then the operation fails (and is retried or reported).

Nothing depends on the session (`alertd.store.pgconn`): PgBouncer transaction pooling works.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from alertd.core.model import Severity
from alertd.core.series import Event, EventKind, Sample, Summary
from alertd.core.state import Reason
from alertd.observability.logging import get_logger
from alertd.store import pg_schema
from alertd.store.backlog import Backlog, Batch
from alertd.store.base import History, LogEntry, ProviderChecks, Record, StoreError, StoreStatus
from alertd.store.pgconn import connect_kwargs, describe, explain
from alertd.store.rollup import closing, hour_of, merged, summarize
from alertd.store.sqlite.rows import state_of, to_ms

POOL_SIZE = 4
POOL_WAIT_S = 5.0
OP_TIMEOUT_S = 15.0  # one statement or transaction; a year of one provider reads in well under
READ_TIMEOUT_S = 60.0  # the start-up load of every provider's recent samples
BACKLOG_LIMIT = 100_000  # history records waiting while the database is down (~50 MB)
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 30.0
CLOSE_WAIT_S = 5.0
CLAIMS_KEPT = timedelta(days=30)
COMPACT_BATCH = 5000
# Refusals no retry fixes, refused at start with one line. libpq reports a refused login
# without a SQLSTATE, so they are told apart by the server's words (a FATAL such as "the
# database system is starting up" or "too many clients" passes: it goes away by itself).
REFUSALS = (
    "password authentication failed",
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
)

Clock = Callable[[], datetime]


class Fenced(Exception):
    """A newer leader holds the lease: this replica's write is refused."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PostgresStore:
    def __init__(
        self,
        url: str,
        clock: Clock = _utcnow,
        *,
        pool_size: int = POOL_SIZE,
        application_name: str = "alertd",
        backlog_limit: int = BACKLOG_LIMIT,
    ) -> None:
        self.url = url
        self.description = describe(url)
        self.clock = clock
        self.pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            kwargs=connect_kwargs(application_name),
            min_size=1,
            max_size=max(pool_size, 2),
            timeout=POOL_WAIT_S,
            max_waiting=64,
            reconnect_timeout=0,  # never give up reconnecting: the database comes back
            open=False,
        )
        self.fence: tuple[str, int] | None = None  # (holder, epoch) while leading under HA
        self.migrated = False
        self.problem: str | None = None
        self.write_errors = 0
        self.fenced = 0
        self.last_commit: datetime | None = None
        self._backlog = Backlog(backlog_limit)
        self._wake = asyncio.Event()  # something was submitted
        self._hurry = asyncio.Event()  # a flush or close waits: retry now, not after backoff
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.log = get_logger(store=self.description)

    # -- opening -----------------------------------------------------------------------------
    async def open(self) -> list[str]:
        """Migrates the schema. A database that does not answer is no reason not to start
        (HA fails open): the problem is returned, and the migration retried before the first
        write. A refused login, a missing database or a newer schema raise StoreError."""
        problems = []
        try:
            await self._first_contact()
            await self.pool.open(wait=False)
            await self._migrate()
        except StoreError:
            await self.pool.close()
            raise
        except (psycopg.Error, OSError, TimeoutError) as exc:
            await self.pool.open(wait=False)
            self.problem = f"database unreachable: {explain(exc, self.url)}"
            problems.append(f"store {self.description}: {self.problem}; will keep trying")
        self._writer = asyncio.create_task(self._write_loop(), name="alertd-pg-writer")
        return problems

    async def _first_contact(self) -> None:
        """One connection of its own, so that a refused login is told from a database that
        does not answer (the pool only reports timeouts)."""
        kwargs = connect_kwargs("alertd")
        try:
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(self.url, **kwargs), OP_TIMEOUT_S
            )
        except psycopg.OperationalError as exc:
            if any(words in str(exc) for words in REFUSALS):
                raise StoreError(f"store {self.description}: {explain(exc, self.url)}") from None
            raise
        await conn.close()

    async def _migrate(self) -> None:
        if self.migrated:
            return

        async def run() -> None:
            async with self.pool.connection() as conn:
                applied = await pg_schema.migrate(conn)
            if applied:
                self.log.info("store_migrated", version=pg_schema.VERSION, applied=applied)

        await asyncio.wait_for(run(), OP_TIMEOUT_S)
        self.migrated = True

    # -- writing -----------------------------------------------------------------------------
    def submit(self, record: Record) -> None:
        self._backlog.put(record)
        self._wake.set()

    async def flush(self) -> None:
        loop = asyncio.get_running_loop()
        attempted = loop.create_future()

        def wake() -> None:
            loop.call_soon_threadsafe(_settle, attempted)

        if self._backlog.wait_for_attempt(wake):
            self._wake.set()
            self._hurry.set()
            await attempted

    async def _write_loop(self) -> None:
        delay = 0.0
        while True:
            if delay:  # backing off: a flush or close cuts it short
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), delay)
            elif not len(self._backlog):
                self._wake.clear()
                if not len(self._backlog):
                    await self._wake.wait()
            self._hurry.clear()
            batch = self._backlog.take()
            if not batch:
                if self._closing:
                    return
                delay = 0.0
                continue
            delay = await self._commit(batch, delay)
            if self._closing and (delay or not len(self._backlog)):
                return

    async def _commit(self, batch: Batch, delay: float) -> float:
        """Writes one batch; the next retry delay (0 after a success or a refusal)."""
        try:
            await self._migrate()
            await asyncio.wait_for(self._write(batch), OP_TIMEOUT_S)
        except Fenced:
            self.fenced += 1
            self.log.warning("store_write_fenced", why="a newer leader holds the lease")
            self._backlog.done(batch)
            return 0.0
        except (psycopg.Error, OSError, TimeoutError) as exc:
            self.write_errors += 1
            problem = f"database unreachable: {explain(exc, self.url)}"
            if problem != self.problem:
                self.log.error("store_write_failed", error=problem, backlog=len(self._backlog))
            self.problem = problem
            self._backlog.restore(batch)
            self._backlog.done(batch)
            return min(max(delay * 2, RETRY_FIRST_S), RETRY_MAX_S)
        if self.problem is not None:
            self.log.info("store_write_recovered")
        self.problem = None
        self.last_commit = self.clock()
        self._backlog.done(batch)
        return 0.0

    async def _write(self, batch: Batch) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await self._check_fence(conn)
            for provider, checks in batch.checks.items():
                await _write_checks(conn, provider, checks)
            samples = [(r.provider, r.sample) for r in batch.records if r.sample is not None]
            events = [(r.provider, e) for r in batch.records for e in r.events]
            sent = [entry for r in batch.records for entry in r.sent]
            async with conn.cursor() as cur:
                if samples:
                    await cur.executemany(_UPSERT_SAMPLE, [_sample_row(p, s) for p, s in samples])
                if events:
                    await cur.executemany(_INSERT_EVENT, [_event_row(p, e) for p, e in events])
                if sent:
                    await cur.executemany(_INSERT_NOTIFICATION, [_log_row(n) for n in sent])

    async def _check_fence(self, conn: psycopg.AsyncConnection[Any]) -> None:
        fence = self.fence
        if fence is None:
            return
        holder, epoch = fence
        row = await (await conn.execute(_LEASE_FOR_SHARE)).fetchone()
        if row is not None and row[0] != holder and int(row[1]) > epoch:
            raise Fenced

    # -- reading -----------------------------------------------------------------------------
    async def _rows(
        self, sql: str, params: Mapping[str, Any], within: float = OP_TIMEOUT_S
    ) -> list[tuple[Any, ...]]:
        async def run() -> list[tuple[Any, ...]]:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(sql.encode(), params)
                return [tuple(row) for row in await cursor.fetchall()]

        try:
            return await asyncio.wait_for(run(), within)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            raise StoreError(f"store {self.description}: {explain(exc, self.url)}") from None

    async def load_state(self) -> ProviderChecks:
        await self._migrate_or_fail()
        checks = await self._rows(_SELECT_CHECKS, {})
        sent = await self._rows(_SELECT_SENT, {})
        state, problems = state_of(
            [(p, c, s, d, to_ms(since), f) for p, c, s, d, since, f in checks],
            [(p, c, dest, s, to_ms(at)) for p, c, dest, s, at in sent],
            self.clock(),
        )
        for problem in problems:
            self.log.error("store_row_unusable", problem=problem)
        return state

    async def _migrate_or_fail(self) -> None:
        try:
            await self._migrate()
        except (psycopg.Error, OSError, TimeoutError) as exc:
            raise StoreError(f"store {self.description}: {explain(exc, self.url)}") from None

    async def load_samples(self, since: Mapping[str, datetime]) -> dict[str, list[Sample]]:
        if not since:
            return {}
        await self._migrate_or_fail()
        rows = await self._rows(
            _SELECT_SAMPLES_SINCE,
            {"providers": list(since), "since": [since[name] for name in since]},
            READ_TIMEOUT_S,
        )
        result: dict[str, list[Sample]] = {name: [] for name in since}
        for provider, at, amount, unit, capacity in rows:
            result[provider].append(_sample(at, amount, unit, capacity))
        return result

    async def history(
        self, provider: str, since: datetime, until: datetime | None = None
    ) -> History:
        await self._migrate_or_fail()
        params = {"provider": provider, "since": since, "until": until}
        samples = await self._rows(_HISTORY_SAMPLES, params)
        summaries = await self._rows(_HISTORY_SUMMARIES, params)
        events = await self._rows(_HISTORY_EVENTS, params)
        notes = await self._rows(_HISTORY_NOTIFICATIONS, params)
        return History(
            provider,
            samples=tuple(_sample(*row) for row in samples),
            summaries=tuple(_summary(row) for row in summaries),
            events=tuple(
                Event(utc(at), EventKind(k), Decimal(a), Decimal(b)) for at, k, a, b in events
            ),
            notifications=tuple(_log_entry(provider, row) for row in notes),
        )

    # -- retention ---------------------------------------------------------------------------
    async def compact(self, now: datetime, retention: Mapping[str, timedelta]) -> int:
        """Folds each provider's raw samples before the hour of `now - retention` into hourly
        summaries, a bounded batch (whole hours) per transaction; drops notification claims
        older than CLAIMS_KEPT (their episodes are long decided)."""
        await self._migrate_or_fail()
        await self._rows(_FORGET_CLAIMS, {"before": now - CLAIMS_KEPT})
        folded = 0
        for provider, keep in retention.items():
            cutoff = hour_of(now - keep)
            while True:
                try:
                    done = await asyncio.wait_for(self._fold(provider, cutoff), OP_TIMEOUT_S)
                except Fenced:
                    return folded
                except (psycopg.Error, OSError, TimeoutError) as exc:
                    raise StoreError(
                        f"store {self.description}: {explain(exc, self.url)}"
                    ) from None
                folded += done
                if not done:
                    break
        return folded

    async def _fold(self, provider: str, cutoff: datetime) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            await self._check_fence(conn)
            params = {"provider": provider, "cutoff": cutoff, "limit": COMPACT_BATCH}
            rows = await (await conn.execute(_FOLD_BATCH, params)).fetchall()
            if not rows:
                return 0
            samples = [_sample(*row) for row in rows]
            if len(rows) == COMPACT_BATCH:  # whole hours only: a batch never splits one
                first_hour, last_hour = hour_of(samples[0].at), hour_of(samples[-1].at)
                if last_hour > first_hour:
                    samples = [s for s in samples if s.at < last_hour]
                else:  # one hour holds more than a batch: that whole hour
                    span = {"provider": provider, "first": first_hour, "cutoff": cutoff}
                    rows = await (await conn.execute(_WHOLE_HOUR, span)).fetchall()
                    samples = [_sample(*row) for row in rows]
            first_hour, last_at = hour_of(samples[0].at), samples[-1].at
            span = {"provider": provider, "first": first_hour, "last": last_at}
            previous = await (await conn.execute(_SUMMARY_BEFORE, span)).fetchone()
            before = closing(_summary(previous)) if previous else None
            existing = [
                _summary(r) for r in await (await conn.execute(_SUMMARIES_IN, span)).fetchall()
            ]
            summaries = merged(existing, summarize(samples, before))
            async with conn.cursor() as cur:
                await cur.executemany(
                    _UPSERT_SUMMARY, [_summary_row(provider, s) for s in summaries]
                )
            await conn.execute(
                _DELETE_FOLDED,
                {"provider": provider, "first": samples[0].at, "last": last_at},
            )
            return len(samples)

    # -- status and closing -----------------------------------------------------------------
    def status(self) -> StoreStatus:
        return StoreStatus(
            ok=self.problem is None,
            problem=self.problem,
            backlog=len(self._backlog),
            dropped=self._backlog.dropped,
            write_errors=self.write_errors,
            last_commit=self.last_commit,
            extra={"kind": "postgresql", "fenced_writes": str(self.fenced)},
        )

    async def close(self) -> None:
        """Commits what is queued (at most CLOSE_WAIT_S), then closes the pool."""
        self._closing = True
        self._wake.set()
        self._hurry.set()
        if self._writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_WAIT_S)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        self._backlog.release_waiters()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pool.close(timeout=1), CLOSE_WAIT_S)


def from_url(url: str, clock: Clock = _utcnow) -> PostgresStore:
    """What `alertd.store.open_store` calls for a postgresql:// URL."""
    return PostgresStore(url, clock)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# -- rows -------------------------------------------------------------------------------------


async def _write_checks(
    conn: psycopg.AsyncConnection[Any], provider: str, checks: Mapping[str, Any]
) -> None:
    """Replaces one provider's checks and their `sent` log by the snapshot (cascade)."""
    await conn.execute(_DELETE_CHECKS, {"provider": provider})
    if not checks:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            _INSERT_CHECK,
            [
                (provider, name, s.severity.label, s.detail, s.since, s.failures)
                for name, s in checks.items()
            ],
        )
        sent = [
            (provider, name, destination, entry.severity.label, entry.at)
            for name, s in checks.items()
            for destination, entry in s.sent.items()
        ]
        if sent:
            await cur.executemany(_INSERT_SENT, sent)


def _sample_row(provider: str, s: Sample) -> tuple[Any, ...]:
    capacity = None if s.capacity is None else str(s.capacity)
    return (provider, s.at, str(s.amount), s.unit, capacity)


def _event_row(provider: str, e: Event) -> tuple[Any, ...]:
    return (provider, e.at, e.kind.value, str(e.amount), str(e.balance))


def _log_row(n: LogEntry) -> tuple[Any, ...]:
    return (n.provider, n.check, n.destination, n.reason.value, n.severity.label, n.at, n.title)


def _log_entry(provider: str, row: tuple[Any, ...]) -> LogEntry:
    check, destination, reason, severity, at, title = row
    return LogEntry(
        provider, check, destination, Reason(reason), Severity.parse(severity), utc(at), title
    )


def utc(at: datetime) -> datetime:
    """A time read back, in UTC whatever the session's TimeZone (keys and logs compare
    text, not only instants)."""
    return at.astimezone(UTC)


def _sample(at: datetime, amount: str, unit: str, capacity: str | None) -> Sample:
    return Sample(utc(at), Decimal(amount), unit, None if capacity is None else Decimal(capacity))


def _summary(row: tuple[Any, ...]) -> Summary:
    hour, unit, first, last, low, high, spent, readings = row
    money = (Decimal(first), Decimal(last), Decimal(low), Decimal(high), Decimal(spent))
    return Summary(utc(hour), unit, *money, readings)


def _summary_row(provider: str, s: Summary) -> tuple[Any, ...]:
    money = (str(s.first), str(s.last), str(s.low), str(s.high), str(s.spent))
    return (provider, s.hour, s.unit, *money, s.readings)


_LEASE_FOR_SHARE = "SELECT holder, epoch FROM alertd_lease WHERE name = 'leader' FOR SHARE"
_DELETE_CHECKS = "DELETE FROM alertd_checks WHERE provider = %(provider)s"
_INSERT_CHECK = (
    "INSERT INTO alertd_checks (provider, check_name, severity, detail, since, failures)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
_INSERT_SENT = (
    "INSERT INTO alertd_sent (provider, check_name, destination, severity, at)"
    " VALUES (%s, %s, %s, %s, %s)"
)
_UPSERT_SAMPLE = (
    "INSERT INTO alertd_samples (provider, at, amount, unit, capacity)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (provider, at) DO UPDATE SET"
    " amount = EXCLUDED.amount, unit = EXCLUDED.unit, capacity = EXCLUDED.capacity"
)
_INSERT_EVENT = (
    "INSERT INTO alertd_events (provider, at, kind, amount, balance)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
_INSERT_NOTIFICATION = (
    "INSERT INTO alertd_notifications"
    " (provider, check_name, destination, reason, severity, at, title)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_SELECT_CHECKS = "SELECT provider, check_name, severity, detail, since, failures FROM alertd_checks"
_SELECT_SENT = "SELECT provider, check_name, destination, severity, at FROM alertd_sent"
_SELECT_SAMPLES_SINCE = """
SELECT s.provider, s.at, s.amount, s.unit, s.capacity
FROM unnest(%(providers)s::text[], %(since)s::timestamptz[]) AS w(provider, since)
JOIN alertd_samples s ON s.provider = w.provider AND s.at >= w.since
ORDER BY s.provider, s.at
"""
_HISTORY_SAMPLES = """
SELECT at, amount, unit, capacity FROM alertd_samples
WHERE provider = %(provider)s AND at >= %(since)s
  AND (%(until)s::timestamptz IS NULL OR at <= %(until)s::timestamptz)
ORDER BY at
"""
_HISTORY_SUMMARIES = """
SELECT hour, unit, first, last, low, high, spent, readings FROM alertd_summaries
WHERE provider = %(provider)s AND hour + interval '1 hour' > %(since)s
  AND (%(until)s::timestamptz IS NULL OR hour <= %(until)s::timestamptz)
ORDER BY hour
"""
_HISTORY_EVENTS = """
SELECT at, kind, amount, balance FROM alertd_events
WHERE provider = %(provider)s AND at >= %(since)s
  AND (%(until)s::timestamptz IS NULL OR at <= %(until)s::timestamptz)
ORDER BY at
"""
_HISTORY_NOTIFICATIONS = """
SELECT check_name, destination, reason, severity, at, title FROM alertd_notifications
WHERE provider = %(provider)s AND at >= %(since)s
  AND (%(until)s::timestamptz IS NULL OR at <= %(until)s::timestamptz)
ORDER BY at, id
"""
_FOLD_BATCH = (
    "SELECT at, amount, unit, capacity FROM alertd_samples"
    " WHERE provider = %(provider)s AND at < %(cutoff)s ORDER BY at LIMIT %(limit)s"
)
_WHOLE_HOUR = (
    "SELECT at, amount, unit, capacity FROM alertd_samples WHERE provider = %(provider)s"
    " AND at >= %(first)s AND at < least(%(first)s + interval '1 hour', %(cutoff)s) ORDER BY at"
)
_SUMMARY_BEFORE = """
SELECT hour, unit, first, last, low, high, spent, readings FROM alertd_summaries
WHERE provider = %(provider)s AND hour < %(first)s ORDER BY hour DESC LIMIT 1
"""
_SUMMARIES_IN = """
SELECT hour, unit, first, last, low, high, spent, readings FROM alertd_summaries
WHERE provider = %(provider)s AND hour >= %(first)s AND hour <= %(last)s
"""
_UPSERT_SUMMARY = """
INSERT INTO alertd_summaries (provider, hour, unit, first, last, low, high, spent, readings)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (provider, hour) DO UPDATE SET
    unit = EXCLUDED.unit, first = EXCLUDED.first, last = EXCLUDED.last, low = EXCLUDED.low,
    high = EXCLUDED.high, spent = EXCLUDED.spent, readings = EXCLUDED.readings
"""
_FORGET_CLAIMS = "DELETE FROM alertd_claims WHERE claimed_at < %(before)s RETURNING 1"
_DELETE_FOLDED = (
    "DELETE FROM alertd_samples"
    " WHERE provider = %(provider)s AND at >= %(first)s AND at <= %(last)s"
)
