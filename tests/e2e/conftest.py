"""Fixtures of the end-to-end suite: simulator, SMTP receiver, the daemon (the webhook
receiver is tests/conftest.py's).

Teardown stops the daemon first (SIGTERM, then SIGKILL), then the receivers and simulator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from support.daemon import DaemonProcess, SimulatorThread, daemons, write_config
from support.http_stub import HttpStub
from support.smtp import SmtpReceiver, smtp_receiver

from e2e.fleet import SMTP_PASSWORD, SMTP_USER, RunDaemon, fleet_accounts, watch_every_account


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """One healthy account per provider type, served from a background thread."""
    with SimulatorThread(fleet_accounts()) as simulator:
        yield simulator


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with smtp_receiver(SMTP_USER, SMTP_PASSWORD) as receiver:
        yield receiver


@pytest.fixture
def run_daemon(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> Iterator[RunDaemon]:
    """Starts `alertd run` on a config watching every simulated account; waits for the first
    poll of each. Notifiers: `hook` (json:// webhook) and `mail` (mailto:// SMTP)."""
    with daemons(tmp_path, poll_timeout=15, stop_timeout=15) as start:

        def run(
            defaults: Mapping[str, Any] | None = None,
            per_provider: Mapping[str, Mapping[str, Any]] | None = None,
            extra_args: tuple[str, ...] = (),
        ) -> DaemonProcess:
            notifiers = {"hook": webhook.apprise_url, "mail": smtp.apprise_url()}
            providers = watch_every_account(sim, per_provider)
            config = write_config(tmp_path / "config.yaml", providers, notifiers, defaults)
            daemon = start(config, extra_args)
            daemon.wait_started(sim.accounts)
            return daemon

        yield run
