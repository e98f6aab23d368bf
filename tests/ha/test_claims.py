"""Claims against a real PostgreSQL: one replica sends a notification, never two; a deposed
leader is fenced; a claim left unsent is taken again after the timeout; an unreachable
database fails open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from support.daemon import free_port

from alertd.ha.claims import Claim, Claims, Verdict
from alertd.ha.lease import Lease
from alertd.store.pg_schema import migrate
from alertd.store.pgconn import connect_kwargs

SINCE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WARNING = Claim("wallet", "balance", "hook#abc", "first", "warning", SINCE, None)


@pytest.fixture
async def pool(pg_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(
        pg_url, kwargs=connect_kwargs("test claims"), min_size=1, max_size=4, open=False
    ) as p:
        async with p.connection() as conn:
            await migrate(conn)
        yield p


async def _lead(pool: AsyncConnectionPool[Any], holder: str, ttl: float = 60) -> int:
    async with pool.connection() as conn:
        won, term = await Lease(holder, timedelta(seconds=ttl)).take_or_renew(conn, None)
    assert won
    assert term is not None
    return term.epoch


def test_keys_differ_per_episode_reminder_and_destination() -> None:
    later = Claim("wallet", "balance", "hook#abc", "first", "warning", SINCE + timedelta(1), None)
    reminder = Claim("wallet", "balance", "hook#abc", "reminder", "warning", SINCE, SINCE)
    next_reminder = Claim(
        "wallet", "balance", "hook#abc", "reminder", "warning", SINCE, SINCE + timedelta(hours=4)
    )
    other_url = Claim("wallet", "balance", "mail#def", "first", "warning", SINCE, None)
    keys = {c.key for c in (WARNING, later, reminder, next_reminder, other_url)}
    assert len(keys) == 5
    again = Claim("wallet", "balance", "hook#abc", "first", "warning", SINCE, None)
    assert again.key == WARNING.key  # another replica deciding the same computes the same key


def test_keys_match_across_time_zones_and_the_stores_millisecond_precision() -> None:
    """The leader decides from its memory (microseconds, UTC); a successor from the store
    (milliseconds, maybe another zone): the same notification must have the same key."""
    decided = datetime(2026, 11, 20, 12, 0, 1, 234567, tzinfo=UTC)
    stored = datetime(2026, 11, 20, 13, 0, 1, 234000, tzinfo=timezone(timedelta(hours=1)))
    first = Claim("wallet", "balance", "hook#abc", "first", "warning", decided, None)
    again = Claim("wallet", "balance", "hook#abc", "first", "warning", stored, None)
    assert first.key == again.key


async def test_two_replicas_claiming_the_same_notification_one_sends(
    pool: AsyncConnectionPool[Any],
) -> None:
    epoch = await _lead(pool, "a")
    a = Claims(pool, "a", timedelta(seconds=60))
    b = Claims(pool, "b", timedelta(seconds=60))
    verdicts = await asyncio.gather(a.claim(WARNING, epoch), b.claim(WARNING, epoch))
    assert sorted(v.value for v in verdicts) == ["claimed", "held"]
    winner = a if verdicts[0] is Verdict.CLAIMED else b
    assert await winner.mark_sent(WARNING)
    assert await a.claim(WARNING, epoch) is Verdict.SENT
    assert await b.claim(WARNING, epoch) is Verdict.SENT


async def test_a_deposed_leader_is_fenced(pool: AsyncConnectionPool[Any]) -> None:
    old = await _lead(pool, "a", ttl=0.2)
    await asyncio.sleep(0.3)
    new = await _lead(pool, "b")
    assert new == old + 1
    assert await Claims(pool, "a", timedelta(60)).claim(WARNING, old) is Verdict.FENCED
    assert await Claims(pool, "b", timedelta(60)).claim(WARNING, new) is Verdict.CLAIMED


async def test_a_claim_left_unsent_is_taken_again_after_the_timeout(
    pool: AsyncConnectionPool[Any],
) -> None:
    epoch = await _lead(pool, "a", ttl=0.2)
    dead = Claims(pool, "a", timedelta(seconds=0.5))
    assert await dead.claim(WARNING, epoch) is Verdict.CLAIMED  # then "a" dies mid-send
    await asyncio.sleep(0.3)
    new = await _lead(pool, "b")
    heir = Claims(pool, "b", timedelta(seconds=0.5))
    assert await heir.claim(WARNING, new) is Verdict.HELD  # not timed out yet
    await asyncio.sleep(0.5)
    assert await heir.claim(WARNING, new) is Verdict.CLAIMED
    assert await heir.mark_sent(WARNING)
    assert await heir.claim(WARNING, new) is Verdict.SENT


async def test_a_released_claim_can_be_claimed_again_at_once(
    pool: AsyncConnectionPool[Any],
) -> None:
    epoch = await _lead(pool, "a")
    claims = Claims(pool, "a", timedelta(hours=1))
    assert await claims.claim(WARNING, epoch) is Verdict.CLAIMED
    await claims.release(WARNING, epoch)  # delivery failed: decided again at the next poll
    assert await Claims(pool, "b", timedelta(hours=1)).claim(WARNING, epoch) is Verdict.CLAIMED


async def test_an_unreachable_database_fails_open() -> None:
    url = f"postgresql://alertd@127.0.0.1:{free_port()}/alertd"
    async with AsyncConnectionPool(
        url, kwargs=connect_kwargs("test"), min_size=0, max_size=1, open=False
    ) as pool:
        claims = Claims(pool, "a", timedelta(60), op_timeout=0.5)
        assert await claims.claim(WARNING, 1) is Verdict.UNAVAILABLE
        assert not await claims.mark_sent(WARNING)


async def test_a_fenced_insert_writes_nothing(pool: AsyncConnectionPool[Any]) -> None:
    await _lead(pool, "a")
    await _lead_again(pool)
    assert await Claims(pool, "z", timedelta(60)).claim(WARNING, 1) is Verdict.FENCED
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) FROM alertd_claims")).fetchone()
    assert row == (0,)


async def _lead_again(pool: AsyncConnectionPool[Any]) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE alertd_lease SET epoch = epoch + 1")


async def test_claims_use_no_prepared_statements(pool: AsyncConnectionPool[Any]) -> None:
    """PgBouncer's transaction pooling: nothing prepared on a server session."""
    epoch = await _lead(pool, "a")
    claims = Claims(pool, "a", timedelta(60))
    for _ in range(8):  # psycopg prepares after 5 runs unless told not to
        await claims.claim(WARNING, epoch)
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) FROM pg_prepared_statements")).fetchone()
    assert row == (0,)
    assert isinstance(conn, psycopg.AsyncConnection)
