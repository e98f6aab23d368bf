"""Fixtures of the end-to-end suite: simulator, webhook and SMTP receivers, the daemon.

Every provider type has one simulated account, named after its type, with a sentinel API
key; the SMTP password is a sentinel too, so any test can check that no secret leaked.
Teardown stops the daemon first (SIGTERM, then SIGKILL), then the receivers and simulator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from support.receivers import SmtpReceiver, WebhookReceiver, smtp_receiver, webhook_receiver

from alertd.simulator import TYPES, Account
from e2e.harness import (
    HEALTHY,
    SMTP_PASSWORD,
    SMTP_USER,
    THRESHOLDS,
    DaemonProcess,
    RunDaemon,
    SimulatorThread,
    api_key,
    config_text,
)


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """One healthy account per provider type, served from a background thread."""
    accounts = [Account(kind, kind, api_key(kind), HEALTHY[kind]) for kind in TYPES]
    simulator = SimulatorThread(accounts).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with smtp_receiver(SMTP_USER, SMTP_PASSWORD) as receiver:
        yield receiver


@pytest.fixture
def run_daemon(
    tmp_path: Path, sim: SimulatorThread, webhook: WebhookReceiver, smtp: SmtpReceiver
) -> Iterator[RunDaemon]:
    """Starts `alertd run` on a config watching every simulated account; waits for the first
    poll of each. Notifiers: `hook` (json:// webhook) and `mail` (mailto:// SMTP)."""
    started: list[DaemonProcess] = []

    def run(
        defaults: Mapping[str, Any] | None = None,
        per_provider: Mapping[str, Mapping[str, Any]] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> DaemonProcess:
        notifiers = {"hook": webhook.apprise_url, "mail": smtp.apprise_url()}
        config = tmp_path / "config.yaml"
        config.write_text(config_text(sim, notifiers, THRESHOLDS, defaults, per_provider))
        daemon = DaemonProcess(config, tmp_path, extra_args).start()
        started.append(daemon)
        daemon.wait_started(sim.accounts)
        return daemon

    try:
        yield run
    finally:
        for daemon in started:
            daemon.kill()
