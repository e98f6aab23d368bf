"""What the outage tests run against: real servers on 127.0.0.1 and the daemon as a process.

The webhook (Apprise `json://`) is an `HttpStub` that closes each connection after its
answer: `stop()` CLOSES its listening socket, so deliveries meet "connection refused" (not a
polite 500), and no kept-alive connection still takes them; `start()` listens again on the
same port. Simulators take per-request scripts (`SimulatorThread.script`)
that set an account's status or balance for the N-th request. Both, and the daemon, are in
tests/support.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from support.daemon import DaemonProcess, SimulatorThread, daemons, write_text
from support.http_stub import HttpStub, webhook_stub

from alertd.demo.simulator import Account


@pytest.fixture
def webhook() -> Iterator[HttpStub]:
    with webhook_stub(close_each=True) as hook:
        yield hook


@pytest.fixture
def simulator() -> Iterator[Callable[[list[Account]], SimulatorThread]]:
    """`simulator(accounts)` starts a simulator thread; each is stopped at teardown."""
    with ExitStack() as stack:
        yield lambda accounts: stack.enter_context(SimulatorThread(accounts))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[[str], DaemonProcess]]:
    """`daemon(config_text)` writes config.yaml and starts `alertd run` on it."""
    with daemons(tmp_path, poll_timeout=20, stop_timeout=20) as start:
        yield lambda text: start(write_text(tmp_path / "config.yaml", text))
