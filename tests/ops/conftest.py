"""Fixtures for the operations tests: a simulator, a webhook receiver, daemons torn down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.receivers import WebhookReceiver, webhook_receiver

from ops.harness import DaemonProcess, SimulatorThread


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    thread = SimulatorThread().start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[Path], DaemonProcess]]:
    """`spawn(config)` starts `alertd run`; every daemon started is stopped at teardown."""
    started: list[DaemonProcess] = []

    def start(config: Path) -> DaemonProcess:
        daemon = DaemonProcess(config, tmp_path, name=f"daemon{len(started)}")
        started.append(daemon)
        return daemon.start()

    try:
        yield start
    finally:
        for daemon in started:
            daemon.close()
