"""The lease and the replica role against a real PostgreSQL: two contenders, renewal,
expiry by the database's clock, takeover with a new epoch, release, a cut session, an
unreachable database (fail open), and a paused leader that finds itself deposed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from support.daemon import free_port
from support.postgres import PostgresServer

from alertd.ha.leadership import Leadership, Role
from alertd.ha.lease import Lease, node_id
from alertd.store.pg_schema import VERSION, migrate
from alertd.store.pgconn import connect_kwargs


@pytest.fixture
async def conn(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(pg_url, **connect_kwargs("test")) as c:
        await migrate(c)
        yield c


async def test_migrations_are_applied_once_and_recorded(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    assert await migrate(conn) == 0
    row = await (await conn.execute("SELECT max(version) FROM alertd_migrations")).fetchone()
    assert row == (VERSION,)


async def test_two_contenders_one_wins_and_renews_the_same_epoch(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    a, b = Lease("a", timedelta(seconds=30)), Lease("b", timedelta(seconds=30))
    won, term = await a.take_or_renew(conn, None)
    assert won
    assert term is not None
    assert (term.holder, term.epoch) == ("a", 1)
    lost, seen = await b.take_or_renew(conn, None)
    assert not lost
    assert seen is not None
    assert (seen.holder, seen.epoch) == ("a", 1)
    renewed, again = await a.take_or_renew(conn, 1)
    assert renewed
    assert again is not None
    assert again.epoch == 1
    assert again.expires_at >= term.expires_at
    # B cannot renew a term it does not hold, whatever epoch it claims.
    assert not (await b.take_or_renew(conn, 1))[0]


async def test_an_expired_lease_is_taken_with_a_new_epoch_and_the_old_holder_is_refused(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    a, b = Lease("a", timedelta(seconds=0.5)), Lease("b", timedelta(seconds=30))
    assert (await a.take_or_renew(conn, None))[0]
    await asyncio.sleep(0.7)  # past expiry by the database's clock
    won, term = await b.take_or_renew(conn, None)
    assert won
    assert term is not None
    assert (term.holder, term.epoch) == ("b", 2)
    late, seen = await a.take_or_renew(conn, 1)  # the old leader wakes up and tries to renew
    assert not late
    assert seen is not None
    assert (seen.holder, seen.epoch) == ("b", 2)


async def test_release_lets_a_standby_take_over_at_once(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    a, b = Lease("a", timedelta(seconds=60)), Lease("b", timedelta(seconds=60))
    assert (await a.take_or_renew(conn, None))[0]
    assert not await b.release(conn, 1)  # not b's to release
    assert await a.release(conn, 1)
    won, term = await b.take_or_renew(conn, None)
    assert won
    assert term is not None
    assert term.epoch == 2


def role(replica: Leadership) -> Role:
    """The role now (a call, so that mypy does not keep an earlier narrowing)."""
    return replica.role


def _leadership(url: str, ttl: float = 1.5, renew: float = 0.3) -> Leadership:
    lease = Lease(node_id(), timedelta(seconds=ttl))
    return Leadership(url, lease, timedelta(seconds=renew))


async def test_replicas_one_leads_until_it_stops_renewing_then_the_other_takes_over(
    pg_url: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    first, second = _leadership(pg_url), _leadership(pg_url)
    try:
        await first.tick()
        await second.tick()
        assert role(first) is Role.LEADER
        assert first.leading()
        assert role(second) is Role.STANDBY
        assert second.holder == first.lease.holder
        # The leader is "paused": it stops renewing. Its own deadline ends its leadership
        # before the database's expiry, with no tick of its loop needed.
        await asyncio.sleep(1.5)
        assert not first.leading()
        await second.tick()
        assert second.leading()
        assert second.epoch == 2
        await first.tick()  # it wakes up: deposed, a standby
        assert role(first) is Role.STANDBY
        assert not first.acting()
    finally:
        await first.stop()
        await second.stop()


async def test_a_clean_stop_hands_the_lease_over_at_once(
    pg_url: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    first, second = _leadership(pg_url, ttl=60), _leadership(pg_url, ttl=60)
    try:
        await first.tick()
        await second.tick()
        assert first.leading()
        await first.stop()
        await second.tick()
        assert second.leading()
    finally:
        await second.stop()


async def test_a_leader_whose_session_is_terminated_steps_down_and_the_peer_takes_over(
    pg_url: str, postgres_server: PostgresServer, conn: psycopg.AsyncConnection[Any]
) -> None:
    first, second = _leadership(pg_url, ttl=30), _leadership(pg_url, ttl=30)
    try:
        await first.tick()
        await second.tick()
        assert first.leading()
        assert postgres_server.terminate(f"alertd lease {first.lease.holder}") == 1
        await first.tick()
        assert role(first) is Role.STANDBY
        await first.tick()  # reconnected: releases its term, does not contend
        await second.tick()
        assert second.leading()
        assert second.epoch == 2
        await first.tick()
        assert role(first) is Role.STANDBY
    finally:
        await first.stop()
        await second.stop()


async def test_an_unreachable_database_turns_a_replica_fail_open_and_says_why_without_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"postgresql://alertd:SENTINEL-PW-1@127.0.0.1:{free_port()}/alertd"
    replica = _leadership(url, ttl=0.6, renew=0.2)
    try:
        await replica.tick()
        assert role(replica) is Role.STANDBY
        assert not replica.reachable
        await asyncio.sleep(0.7)
        await replica.tick()
        assert role(replica) is Role.FAIL_OPEN
        assert replica.acting()
        assert replica.problem is not None
        assert "database unreachable" in replica.problem
        assert "SENTINEL-PW-1" not in replica.problem
    finally:
        await replica.stop()
