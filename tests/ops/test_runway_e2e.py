"""The forecast as a user runs it (SPEC §6): `alertd run` against the simulator with a
draining account and a short `burn_window`; the runway alert reaches a real webhook before the
balance warning, a top-up resolves it, and `/metrics` shows the burn rate and runway.

The account drains $5 a second from $100 (a background thread moves the simulated balance):
the runway is 20 − t seconds, so a 15 s runway warning fires after about 5 s (once the 2 s a
14 s window needs are there), the $20 balance warning after 16 s.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.daemon import SimulatorThread, StartDaemon, free_port, wait_until, write_config
from support.http_stub import HttpStub

DRAIN_PER_SECOND = Decimal(5)


class Drain:
    """Moves the account's balance down linearly in real time until stopped."""

    def __init__(self, sim: SimulatorThread, name: str, start: Decimal) -> None:
        self.sim, self.name, self.start = sim, name, start
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.monotonic()
        while not self.stopped.wait(0.1):
            spent = DRAIN_PER_SECOND * Decimal(str(time.monotonic() - began))
            self.sim.set(self.name, balance=(self.start - spent).quantize(Decimal("0.01")))

    def __enter__(self) -> Drain:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(5)


@pytest.fixture
def wallet(sim: SimulatorThread) -> SimulatorThread:
    sim.account("wallet", "browser7", "100")
    return sim


def titles(webhook: HttpStub) -> list[str]:
    return [str(m["title"]) for m in webhook.messages]


def metrics(port: int) -> dict[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        line.split(" ")[0]: line.split(" ")[1]
        for line in text.splitlines()
        if line.startswith(("alertd_burn_rate", "alertd_runway_seconds", "alertd_topups_total"))
    }


def test_runway_alert_comes_before_the_balance_warning_and_a_top_up_resolves_it(
    tmp_path: Path, wallet: SimulatorThread, spawn: StartDaemon, webhook: HttpStub
) -> None:
    port = free_port()
    provider: dict[str, Any] = {
        "type": "browser7",
        "api_key": "key-wallet",
        "base_url": wallet.base_url("wallet"),
        "warning": 20,
        "runway_warning": "15s",
        "burn_window": "14s",
    }
    config = write_config(
        tmp_path / "config.yaml",
        {"wallet": provider},
        {"hook": webhook.apprise_url},
        {"repeat_interval": 0},
        http={"listen": f"127.0.0.1:{port}"},
    )
    daemon = spawn(config)
    with Drain(wallet, "wallet", Decimal(100)):
        daemon.wait_started(["wallet"])
        wait_until(
            lambda: any("below warning threshold" in t for t in titles(webhook)),
            timeout=40,
            message=lambda: f"a balance warning; got {titles(webhook)}",
        )
        seen = metrics(port)
    got = titles(webhook)
    runway = [i for i, t in enumerate(got) if "within the warning runway of 15s" in t]
    balance = [i for i, t in enumerate(got) if "below warning threshold" in t]
    assert runway, got
    assert runway[0] < balance[0], got
    first = webhook.messages[runway[0]]
    assert first["type"] == "warning"
    assert "Runs out: in ~" in first["message"]
    assert "Check: runway" in first["message"]
    # /metrics: the burn rate is about $5 a second, in dollars per day; a finite runway
    assert 0.8 < float(seen['alertd_burn_rate{provider="wallet",unit="USD"}']) / 432000 < 1.2
    assert float(seen['alertd_runway_seconds{provider="wallet"}']) < 16

    wallet.set("wallet", balance=Decimal(100000))  # topped up, no longer draining
    wait_until(
        lambda: "[RESOLVED] wallet: runway back to normal" in titles(webhook),
        timeout=20,
        message=lambda: f"the runway resolved; got {titles(webhook)}",
    )
    assert (
        wait_until(
            lambda: metrics(port).get('alertd_topups_total{kind="topup",provider="wallet"}'), 10
        )
        == "1.0"
    )
    daemon.assert_running()
