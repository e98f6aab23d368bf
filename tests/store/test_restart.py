"""`store: sqlite:///...` as a user runs it (SPEC §3, §6): a restart, clean or a crash,
neither repeats nor forgets an alert, and the history is still there.

The daemon runs as a subprocess against the simulator and a real webhook, is stopped with
SIGTERM or killed with SIGKILL, then started again on the same database, account and
webhook URL (the URL is part of the notification log's key, so the receiver outlives both
daemons).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.daemon import DaemonProcess, SimulatorThread, wait_until, write_config
from support.http_stub import HttpStub

from store.daemon_support import delivered, notifications, readings

pytestmark = pytest.mark.e2e

Spawn = Callable[[Path], DaemonProcess]
WARNING = "[WARNING] wallet: balance $15.00 (1,500 renders) below warning threshold"


def _config(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, db: Path, **defaults: Any
) -> Path:
    sim.account("wallet", "browser7", 15)  # warning below $20, critical below $5
    return write_config(
        tmp_path / "config.yaml",
        {"wallet": sim.provider("wallet", warning=20, critical=5)},
        {"hook": webhook.apprise_url},
        defaults,
        store=f"sqlite://{db}",
    )


def _titles(webhook: HttpStub) -> list[str]:
    return [m["title"] for m in webhook.about("wallet")]


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_a_restart_does_not_repeat_an_alert_and_keeps_the_history(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn, stop: str
) -> None:
    db = tmp_path / "alertd.db"
    config = _config(tmp_path, sim, webhook, db)

    first = spawn(config)
    first.wait_for("started")
    wait_until(lambda: webhook.about("wallet"), 15, "the first warning at the webhook")
    wait_until(lambda: delivered(db), 5, "the delivery committed to the store")
    first.wait_for_polls(["wallet"], 2)
    if stop == "sigterm":
        assert first.stop() == 0
        assert first.events("stopped")
    else:
        first.sigkill()
    assert _titles(webhook) == [WARNING]
    polled = readings(db)
    assert polled >= 2
    assert notifications(db) == [WARNING]

    second = spawn(config)
    restored = second.wait_for("state_restored")[0]
    assert restored["providers"] == 1
    assert restored["store"] == f"sqlite://{db}"
    second.wait_for_polls(["wallet"], 3)
    assert _titles(webhook) == [WARNING], "warning repeated after restart"
    assert second.events("notification_sent") == []
    assert readings(db) >= polled + 3  # the history before the restart is still there

    # The restored log is live: a drop to critical is an escalation from the warning sent
    # before the restart ("fell below"), not a first alert.
    sim["wallet"].balance = Decimal(3)
    wait_until(lambda: len(_titles(webhook)) >= 2, 10, "the critical alert")
    assert _titles(webhook)[1].startswith("[CRITICAL] wallet: balance $3.00")
    assert "fell below critical threshold" in _titles(webhook)[1]
    wait_until(lambda: len(notifications(db)) == 2, 5, "the critical alert in the log")


def test_sigkill_with_a_reminder_due_still_reminds_once_after_restart(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    repeat = 4.0
    db = tmp_path / "alertd.db"
    config = _config(tmp_path, sim, webhook, db, repeat_interval=f"{repeat:g}s")

    first = spawn(config)
    first.wait_for("started")
    sent = wait_until(lambda: delivered(db), 15, "the warning committed to the store")
    first.sigkill()
    assert len(_titles(webhook)) == 1

    # Stay down until the reminder is overdue, as a crash-looping or stopped daemon would.
    due = next(iter(sent.values())) + timedelta(seconds=repeat + 0.3)
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


def test_a_corrupt_database_is_set_aside_and_alerts_still_work(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    db = tmp_path / "alertd.db"
    garbage = b"\x00\x9c\xff SQLite format 2\x00" + bytes(range(256)) * 8
    db.write_bytes(garbage)
    config = _config(tmp_path, sim, webhook, db)

    daemon = spawn(config)
    problem = daemon.wait_for("store_unusable")[0]
    assert problem["level"] == "error"
    assert problem["problem"].startswith(f"store sqlite://{db} is corrupt (file is not a database)")
    aside = list(tmp_path.glob("alertd.db.corrupt-*"))
    assert len(aside) == 1, sorted(p.name for p in tmp_path.iterdir())
    assert f"set aside as {aside[0].name}, starting with an empty store" in problem["problem"]
    assert aside[0].read_bytes() == garbage, "the corrupt file must be kept as it was"

    wait_until(lambda: webhook.about("wallet"), 15, "the warning despite the corrupt database")
    assert webhook.about("wallet")[0]["type"] == "warning"
    wait_until(lambda: delivered(db), 5, "a fresh database with the delivery")
    assert aside[0].read_bytes() == garbage, "the fresh store must not touch the evidence"
    daemon.assert_running()


def test_a_reload_that_removes_a_provider_clears_its_alert_state(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    """As the state file did: a provider removed (or re-added later) starts afresh, its
    history stays."""
    db = tmp_path / "alertd.db"
    config = _config(tmp_path, sim, webhook, db)
    sim.account("other", "browser7", 100)
    providers = {
        "wallet": sim.provider("wallet", warning=20, critical=5),
        "other": sim.provider("other", warning=20),
    }
    write_config(config, providers, {"hook": webhook.apprise_url}, store=f"sqlite://{db}")
    daemon = spawn(config)
    wait_until(lambda: delivered(db), 15, "the warning committed to the store")
    del providers["wallet"]
    write_config(config, providers, {"hook": webhook.apprise_url}, store=f"sqlite://{db}")
    daemon.send_signal(signal.SIGHUP)
    daemon.wait_for("reloaded")
    wait_until(lambda: not delivered(db), 5, "the removed provider's state cleared")
    assert readings(db) >= 1
