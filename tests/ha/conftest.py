"""Fixtures of the HA suite: a simulator, and replicas of `alertd run` on a fresh database of
the session's PostgreSQL with a real webhook receiver (tests/conftest.py's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import SimulatorThread, daemons
from support.http_stub import HttpStub
from support.postgres import PostgresServer
from support.replicas import Replicas


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread() as simulator:
        yield simulator


@pytest.fixture
def replicas(
    tmp_path: Path,
    sim: SimulatorThread,
    webhook: HttpStub,
    pg_url: str,
    postgres_server: PostgresServer,
) -> Iterator[Replicas]:
    with daemons(tmp_path, poll_timeout=20, stop_timeout=20) as start:
        yield Replicas(tmp_path, sim, webhook, postgres_server, pg_url, start)
    postgres_server.ensure_running()
