"""What the PostgreSQL store does beyond the store contract (tests/store): fenced writes, a
database that goes away and comes back (nothing submitted is lost), errors without the
password, a newer schema refused, and concurrent openings migrating once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from support.postgres import PostgresServer

from alertd.core.model import Severity
from alertd.core.series import Sample
from alertd.core.state import CheckState, Reason, Sent
from alertd.store.base import LogEntry, Record, StoreError
from alertd.store.postgres import PostgresStore

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WARNED = CheckState(
    Severity.WARNING, "balance below warning", T0, sent={"hook#1": Sent(Severity.WARNING, T0)}
)


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_url, clock=lambda: T0 + timedelta(hours=1))
    assert await s.open() == []
    yield s
    await s.close()


def _record(provider: str = "wallet", minutes: int = 0, amount: str = "15.00") -> Record:
    at = T0 + timedelta(minutes=minutes)
    return Record(
        provider,
        sample=Sample(at, Decimal(amount), "USD"),
        checks={"balance": WARNED},
        sent=(LogEntry(provider, "balance", "hook#1", Reason.FIRST, Severity.WARNING, at, "W"),),
    )


async def test_a_round_trip_keeps_decimals_times_and_the_notification_log(
    store: PostgresStore,
) -> None:
    store.submit(_record(amount="7189.245"))
    await store.flush()
    assert store.status().ok
    assert await store.load_state() == {"wallet": {"balance": WARNED}}
    samples = await store.load_samples({"wallet": T0})
    assert samples == {"wallet": [Sample(T0, Decimal("7189.245"), "USD")]}
    assert samples["wallet"][0].at.utcoffset() == timedelta(0)
    history = await store.history("wallet", T0 - timedelta(hours=1))
    assert [n.reason for n in history.notifications] == [Reason.FIRST]


async def test_a_deposed_leaders_writes_are_fenced_off(store: PostgresStore) -> None:
    store.submit(_record())
    await store.flush()
    async with store.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO alertd_lease VALUES ('leader', 'new', 7, now(), now(), now() + '1h')"
        )
    store.fence = ("old", 6)
    store.submit(Record("wallet", checks={}))  # the old leader would wipe the state
    await store.flush()
    assert await store.load_state() == {"wallet": {"balance": WARNED}}
    assert store.status().extra["fenced_writes"] == "1"
    store.fence = ("new", 7)
    store.submit(Record("wallet", checks={}))
    await store.flush()
    assert await store.load_state() == {}


async def test_a_database_restart_loses_nothing_submitted_meanwhile(
    store: PostgresStore, postgres_server: PostgresServer
) -> None:
    store.submit(_record(minutes=0))
    await store.flush()
    postgres_server.stop()
    try:
        store.submit(_record(minutes=1, amount="14"))
        await store.flush()  # attempted, failed, kept
        status = store.status()
        assert not status.ok
        assert status.problem is not None
        assert "database unreachable" in status.problem
        assert status.backlog >= 1
    finally:
        postgres_server.start()
    deadline = asyncio.get_running_loop().time() + 40
    while not store.status().ok and asyncio.get_running_loop().time() < deadline:
        store.submit(Record("other", checks={"balance": WARNED}))
        await store.flush()
        await asyncio.sleep(0.2)
    assert store.status().ok
    samples = await store.load_samples({"wallet": T0})
    assert [s.amount for s in samples["wallet"]] == [Decimal("15.00"), Decimal(14)]


async def test_errors_name_the_store_never_the_password(postgres_server: PostgresServer) -> None:
    url = postgres_server.url("no_such_db").replace("alertd@", "alertd:SENTINEL-PW-2@")
    store = PostgresStore(url)
    with pytest.raises(StoreError, match="no_such_db") as caught:
        await store.open()
    assert "SENTINEL-PW-2" not in str(caught.value)
    assert "SENTINEL-PW-2" not in store.description


async def test_an_unreachable_database_at_start_is_a_problem_not_a_refusal() -> None:
    from support.daemon import free_port

    store = PostgresStore(f"postgresql://alertd:SENTINEL-PW-3@127.0.0.1:{free_port()}/x")
    try:
        problems = await store.open()
        assert len(problems) == 1
        assert "database unreachable" in problems[0]
        assert "SENTINEL-PW-3" not in problems[0]
        assert not store.status().ok
    finally:
        await store.close()


async def test_a_newer_schema_is_refused(pg_url: str) -> None:
    first = PostgresStore(pg_url)
    await first.open()
    async with first.pool.connection() as conn:
        await conn.execute("INSERT INTO alertd_migrations (version) VALUES (99)")
    await first.close()
    with pytest.raises(StoreError, match="version 99, newer"):
        await PostgresStore(pg_url).open()


async def test_replicas_opening_together_migrate_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(4)]
    try:
        assert await asyncio.gather(*(s.open() for s in stores)) == [[]] * 4
        async with stores[0].pool.connection() as conn:
            rows = await (await conn.execute("SELECT version FROM alertd_migrations")).fetchall()
        assert rows == [(1,)]
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_compaction_folds_old_samples_into_hourly_summaries(store: PostgresStore) -> None:
    for minute, amount in enumerate(["10", "9", "12", "11"]):
        store.submit(
            Record(
                "wallet", sample=Sample(T0 + timedelta(minutes=minute * 20), Decimal(amount), "USD")
            )
        )
    await store.flush()
    folded = await store.compact(T0 + timedelta(days=3), {"wallet": timedelta(days=1)})
    assert folded == 4
    history = await store.history("wallet", T0 - timedelta(hours=1))
    assert history.samples == ()
    (first, second) = history.summaries
    assert (first.hour, first.first, first.last, first.spent, first.readings) == (
        T0,
        Decimal(10),
        Decimal(12),
        Decimal(1),
        3,
    )
    assert (second.first, second.spent, second.readings) == (Decimal(11), Decimal(1), 1)


async def test_compaction_forgets_claims_older_than_thirty_days(store: PostgresStore) -> None:
    async with store.pool.connection() as conn:
        for key, age in (("old", 40), ("recent", 2)):
            await conn.execute(
                "INSERT INTO alertd_claims (key, provider, check_name, destination, reason,"
                " severity, holder, epoch, claimed_at, sent_at)"
                " VALUES (%s, 'wallet', 'balance', 'hook#1', 'first', 'warning', 'a', 1, %s, %s)",
                (key, T0 - timedelta(days=age), T0 - timedelta(days=age)),
            )
    await store.compact(T0, {"wallet": timedelta(days=90)})
    async with store.pool.connection() as conn:
        rows = await (await conn.execute("SELECT key FROM alertd_claims")).fetchall()
    assert rows == [("recent",)]
