"""Fixtures for the operations tests: a simulator, daemons torn down (the webhook receiver is
tests/conftest.py's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import SimulatorThread, StartDaemon, daemons


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread() as thread:
        yield thread


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[StartDaemon]:
    """`spawn(config)` starts `alertd run`; every daemon started is stopped at teardown."""
    with daemons(tmp_path, poll_timeout=10) as start:
        yield start
