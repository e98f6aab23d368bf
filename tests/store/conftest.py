"""The store suite: one contract (test_contract.py) run against every implementation through
the parametrized `store` fixture, plus what only one implementation can show.

Adding an implementation is one entry in `STORES`: a function of the test's request and
clock that returns the store, not opened. The PostgreSQL entry reuses the session's server
through `request.getfixturevalue("pg_url")` and returns the store on a fresh database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from alertd.store.base import Store
from alertd.store.memory import MemoryStore
from alertd.store.sqlite import SqliteStore

# Test data lies in March 2026; the stores' clock (which judges "a time in the future")
# reads a moment after all of it.
NOW = datetime(2026, 4, 1, tzinfo=UTC)

StoreFactory = Callable[[pytest.FixtureRequest, Callable[[], datetime]], Store]


def _memory(request: pytest.FixtureRequest, clock: Callable[[], datetime]) -> Store:
    return MemoryStore()


def _sqlite(request: pytest.FixtureRequest, clock: Callable[[], datetime]) -> Store:
    directory = request.getfixturevalue("tmp_path")
    path = directory / "alertd.db"
    return SqliteStore(path, f"sqlite://{path}", clock)


def _postgresql(request: pytest.FixtureRequest, clock: Callable[[], datetime]) -> Store:
    """A fresh database on the session's real PostgreSQL (tests/support/postgres.py)."""
    from alertd.store.postgres import PostgresStore

    url: str = request.getfixturevalue("pg_url")
    return PostgresStore(url, clock)


STORES: dict[str, StoreFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


@pytest.fixture(params=sorted(STORES))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """An opened store of each kind, closed after the test."""
    opened = STORES[request.param](request, lambda: NOW)
    assert await opened.open() == []
    try:
        yield opened
    finally:
        await opened.close()
