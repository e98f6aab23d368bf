"""`state_file:` (SPEC §3): a restart, even a crash, neither repeats nor forgets an alert.

The daemon runs as a subprocess and is killed with SIGKILL (no clean stop, no final save),
then started again on the same state file, simulator account and webhook URL (the webhook's
URL is part of the delivery log's key, so the receiver outlives both daemons).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.daemon import DaemonProcess, SimulatorThread, wait_until, write_config
from support.http_stub import HttpStub

pytestmark = pytest.mark.e2e

Spawn = Callable[[Path], DaemonProcess]


def _config(
    tmp_path: Path,
    sim: SimulatorThread,
    webhook: HttpStub,
    state_file: Path,
    **defaults: Any,
) -> Path:
    sim.account("wallet", "browser7", 15)  # warning below $20, critical below $5
    return write_config(
        tmp_path / "config.yaml",
        {"wallet": sim.provider("wallet", warning=20, critical=5)},
        {"hook": webhook.apprise_url},
        defaults,
        state_file=str(state_file),
    )


def _delivered(state_file: Path, provider: str = "wallet", check: str = "balance") -> Any:
    """The `sent` log of a check as the state file holds it (falsy until a delivery is saved)."""
    try:
        data = json.loads(state_file.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return data["providers"].get(provider, {}).get(check, {}).get("sent")


def _titles(webhook: HttpStub) -> list[str]:
    return [m["title"] for m in webhook.about("wallet")]


def test_sigkill_after_an_alert_then_restart_does_not_repeat_it(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    state = tmp_path / "state.json"
    config = _config(tmp_path, sim, webhook, state)

    first = spawn(config)
    first.wait_for("started")
    wait_until(lambda: webhook.about("wallet"), 15, "the first warning at the webhook")
    wait_until(lambda: _delivered(state), 5, "the delivery recorded in the state file")
    first.sigkill()
    assert _titles(webhook) == [
        "[WARNING] wallet: balance $15.00 (1,500 renders) below warning threshold"
    ]

    second = spawn(config)
    restored = second.wait_for("state_restored")[0]
    assert restored["providers"] == 1
    second.wait_for_polls(["wallet"], 3)
    assert len(_titles(webhook)) == 1, f"warning repeated after restart: {_titles(webhook)}"
    assert second.events("notification_sent") == []

    # The restored log is live: a drop to critical is an escalation from the warning sent
    # before the crash ("fell below"), not a first alert.
    sim["wallet"].balance = Decimal(3)
    wait_until(lambda: len(_titles(webhook)) >= 2, 10, "the critical alert")
    assert _titles(webhook)[1].startswith("[CRITICAL] wallet: balance $3.00")
    assert "fell below critical threshold" in _titles(webhook)[1]


def test_sigkill_with_a_reminder_due_still_reminds_once_after_restart(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    repeat = 4.0
    state = tmp_path / "state.json"
    config = _config(tmp_path, sim, webhook, state, repeat_interval=f"{repeat:g}s")

    first = spawn(config)
    first.wait_for("started")
    sent = wait_until(lambda: _delivered(state), 15, "the warning recorded in the state file")
    first.sigkill()
    assert len(_titles(webhook)) == 1

    # Stay down until the reminder is overdue, as a crash-looping or stopped daemon would.
    sent_at = datetime.fromisoformat(next(iter(sent.values()))["at"])
    due = sent_at + timedelta(seconds=repeat + 0.3)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))

    second = spawn(config)
    second.wait_for("started")
    wait_until(
        lambda: any("still below" in t for t in _titles(webhook)),
        10,
        lambda: f"the reminder (got {_titles(webhook)}):\n{second.tail()}",
    )
    second.wait_for_polls(["wallet"], 2)  # well inside the next repeat interval
    titles = _titles(webhook)
    reminders = [t for t in titles if "still below" in t]
    assert len(reminders) == 1, titles
    assert reminders[0].startswith("[WARNING] wallet: balance $15.00")
    assert len(titles) == 2, f"the first alert was repeated instead of reminded: {titles}"


def test_corrupt_state_file_is_set_aside_and_alerts_still_work(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    state = tmp_path / "state.json"
    garbage = b'\x00\x9c\xff{"version": 1, "providers": \xde\xad\xbe\xef'
    state.write_bytes(garbage)
    config = _config(tmp_path, sim, webhook, state)

    daemon = spawn(config)
    problem = daemon.wait_for("state_file_unusable")[0]
    assert problem["level"] == "error"
    assert "corrupt" in problem["problem"]
    assert str(state) in problem["problem"]

    aside = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(aside) == 1, sorted(p.name for p in tmp_path.iterdir())
    assert aside[0].name in problem["problem"]
    assert aside[0].read_bytes() == garbage, "the corrupt file must be kept as it was"

    wait_until(lambda: webhook.about("wallet"), 15, "the warning despite the bad state file")
    assert webhook.about("wallet")[0]["type"] == "warning"
    wait_until(lambda: _delivered(state), 5, "a fresh, valid state file")
    assert aside[0].read_bytes() == garbage, "the fresh save must not touch the evidence"
    daemon.assert_running()


@pytest.mark.parametrize("where", ["missing-directory", "path-is-a-directory"])
def test_unusable_state_file_location_is_logged_and_the_daemon_keeps_running(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn, where: str
) -> None:
    if where == "missing-directory":
        state = tmp_path / "no-such-dir" / "state.json"
    else:
        state = tmp_path / "state.json"
        state.mkdir()  # unreadable as a file, and cannot be replaced by one
    config = _config(tmp_path, sim, webhook, state)

    daemon = spawn(config)
    daemon.wait_for("started")
    if where == "path-is-a-directory":
        unusable = daemon.wait_for("state_file_unusable")[0]
        assert "cannot read" in unusable["problem"]

    failed = daemon.wait_for("state_file_write_failed")[0]
    assert failed["level"] == "error"
    assert failed["path"] == str(state)
    assert failed["error"]

    wait_until(lambda: webhook.about("wallet"), 15, "the warning without a usable state file")
    daemon.wait_for_polls(["wallet"], 2)
    daemon.assert_running()
    assert len(webhook.about("wallet")) == 1, "no state file must not mean repeated alerts"
    if where == "missing-directory":
        assert not state.parent.exists()
    else:
        assert state.is_dir()
