"""Behind PgBouncer's transaction pooling (SPEC §7): nothing of alertd depends on a server
session, so the store, the lease, the claims and two real replicas work when every
statement of every client shares one server session in turn."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from support.pgbouncer import pgbouncer
from support.postgres import PostgresServer
from support.replicas import ACCOUNT, Replicas

from alertd.core.series import Sample
from alertd.ha.claims import Claims, Verdict
from alertd.ha.leadership import Leadership
from alertd.ha.lease import node_id
from alertd.store.base import Record
from alertd.store.postgres import PostgresStore
from ha.test_claims import WARNING
from ha.test_pg_store import T0, _record

pytestmark = pytest.mark.e2e


@pytest.fixture
def bouncer_url(pg_url: str, postgres_server: PostgresServer) -> Iterator[str]:
    database = pg_url.rsplit("/", 1)[1]
    with pgbouncer(postgres_server, pool_size=1) as port:
        yield f"postgresql://alertd@127.0.0.1:{port}/{database}"


async def test_store_lease_and_claims_work_through_transaction_pooling(bouncer_url: str) -> None:
    from alertd.ha.lease import Lease

    store = PostgresStore(bouncer_url)
    assert await store.open() == []
    try:
        for minute in range(12):  # past psycopg's prepare threshold, had it one
            store.submit(_record(minutes=minute, amount=str(20 - minute)))
            await store.flush()
        store.submit(Record("wallet", sample=Sample(T0, Decimal("99"), "USD")))
        await store.flush()
        assert store.status().ok, store.status().problem
        samples = (await store.load_samples({"wallet": T0}))["wallet"]
        assert [s.amount for s in samples[:2]] == [Decimal("99"), Decimal("19")]
        first = Leadership(bouncer_url, Lease(node_id("a"), timedelta(seconds=30)), timedelta(1))
        second = Leadership(bouncer_url, Lease(node_id("b"), timedelta(seconds=30)), timedelta(1))
        try:
            for _ in range(8):
                await asyncio.gather(first.tick(), second.tick())
            assert first.leading() != second.leading()
            leader = first if first.leading() else second
            claims = [Claims(store.pool, name, timedelta(60)) for name in ("a", "b")]
            epoch = leader.epoch or 0
            verdicts = await asyncio.gather(*(c.claim(WARNING, epoch) for c in claims))
            assert sorted(v.value for v in verdicts) == ["claimed", "held"]
            assert Verdict.UNAVAILABLE not in verdicts
        finally:
            await first.stop()
            await second.stop()
    finally:
        await store.close()


def test_two_replicas_behind_pgbouncer_poll_once_and_take_over(
    replicas: Replicas, bouncer_url: str
) -> None:
    replicas.store_url = bouncer_url
    replicas.start("a")
    replicas.start("b")
    leader = replicas.leader()
    standby = "b" if leader == "a" else "a"
    replicas.set_balance(15)
    replicas.wait_for_message("[WARNING] wallet")
    replicas.kill(leader)
    assert replicas.leader(30, among=[standby]) == standby
    replicas.set_balance(3)
    replicas.wait_for_message("[CRITICAL] wallet", 20)
    replicas.procs[standby].wait_for_polls([ACCOUNT], 3)
    assert replicas.count("[WARNING] wallet") == 1, replicas.titles()
    assert replicas.count("[CRITICAL] wallet") == 1, replicas.titles()
    for name in ("a", "b"):
        problems = replicas.procs[name].events(
            ["store_write_failed", "database_unreachable", "role_change_failed"]
        )
        assert problems == [], problems
