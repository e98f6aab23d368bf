"""Fixtures shared by the provider tests (recorded provider bodies, a loopback server, a client)
and by the daemon suites (a real webhook receiver, a simulator, daemons torn down)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from support.daemon import SimulatorThread, StartDaemon, daemons
from support.http_stub import HttpStub, serving, webhook_stub
from support.postgres import PostgresServer, start_server

from alertd.http import HttpClient, make_client

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_bytes() -> Callable[[str, str], bytes]:
    """`fixture_bytes("browser7", "balance_1700")`: a body from tests/fixtures/<type>/."""

    def read(provider_type: str, name: str) -> bytes:
        return (FIXTURES / provider_type / f"{name}.json").read_bytes()

    return read


@pytest.fixture
def stub_server() -> Iterator[HttpStub]:
    with serving() as server:
        yield server


@pytest.fixture
async def http_client() -> AsyncIterator[HttpClient]:
    """The production client (alertd.http.make_client), shared by every request of a test."""
    async with make_client() as client:
        yield client


@pytest.fixture
def webhook() -> Iterator[HttpStub]:
    """A json:// webhook receiver on 127.0.0.1 (tests/fault uses one that can close its socket)."""
    with webhook_stub() as receiver:
        yield receiver


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """An empty provider simulator in a thread (tests/e2e has one with an account per type)."""
    with SimulatorThread() as thread:
        yield thread


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[StartDaemon]:
    """`spawn(config)` starts `alertd run`; every daemon started is stopped at teardown."""
    with daemons(tmp_path, poll_timeout=10) as start:
        yield start


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the session (fails, never skips, when it is not installed)."""
    server = start_server()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server, as a postgresql:// URL."""
    postgres_server.ensure_running()
    return postgres_server.url(postgres_server.database())
