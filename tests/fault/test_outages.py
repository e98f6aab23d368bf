"""Outages against the real daemon: a notifier that refuses connections, flapping providers,
a balance hovering at its threshold. Every count asserted here is what SPEC §3 implies.

The daemon runs as a subprocess (`python -m alertd run`, interval 1s, jitter 0) against the
provider simulator in a background thread and a webhook receiver (Apprise `json://`) whose
listening socket is really closed while it is "down".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from support.daemon import DaemonProcess, SimulatorThread, wait_until
from support.http_stub import HttpStub

from alertd.demo.simulator import Account

pytestmark = pytest.mark.fault

StartSim = Callable[[list[Account]], SimulatorThread]
StartDaemon = Callable[[str], DaemonProcess]


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("title")) for m in messages]


def notifications(bad: list[bool]) -> list[str]:
    """What SPEC §3 says goes out for a check that is bad or not at each poll, as Apprise
    types: "warning" when it turns bad (a first reading included), "success" (resolved) when
    it turns good again after that, nothing while it stays as it is."""
    sent, alerted = [], False
    for now_bad in bad:
        if now_bad != alerted:
            sent.append("warning" if now_bad else "success")
            alerted = now_bad
    return sent


def fetch_notifications(polls: list[dict[str, Any]], failure_threshold: int) -> list[str]:
    """`fetch` is bad once `failure_threshold` consecutive polls failed, good on a success."""
    bad, failures = [], 0
    for poll in polls:
        failures = failures + 1 if poll["event"] == "poll_failed" else 0
        bad.append(failures >= failure_threshold)
    return notifications(bad)


def longest_failure_run(polls: list[dict[str, Any]]) -> int:
    longest = run = 0
    for poll in polls:
        run = run + 1 if poll["event"] == "poll_failed" else 0
        longest = max(longest, run)
    return longest


# -- (a) the notifier is down while three providers cross their warning line --------------------


def test_notifier_down_then_back_delivers_every_alert_exactly_once(
    simulator: StartSim, webhook: HttpStub, daemon: StartDaemon
) -> None:
    sim = simulator(
        [
            Account("b7", "browser7", "key-b7", Decimal(100)),
            Account("lob", "lobstr", "key-lob", Decimal(8000)),
            Account("srt", "srtgen", "key-srt", Decimal(8000)),
            Account("calm", "decaptcha", "key-calm", Decimal(100)),  # stays healthy
        ]
    )
    usd = {"warning": 20, "critical": 5}
    credits = {"warning": 2000, "critical": 500}
    proc = daemon(
        sim.config(
            {"hook": webhook.apprise_url},
            {"notify": ["hook"]},
            {"b7": usd, "lob": credits, "srt": credits, "calm": usd},
        )
    )
    crossing = ["b7", "lob", "srt"]
    proc.wait_for_polls([*crossing, "calm"], 1, timeout=30)
    assert webhook.messages == []  # healthy at start: nothing to say

    webhook.stop()
    went_down = time.monotonic()
    assert webhook.refuses_connections()
    sim.set("b7", balance=Decimal("15.00"))
    sim.set("lob", balance=Decimal(1500))
    sim.set("srt", balance=Decimal(1500))
    proc.wait_for_polls(crossing, 2)
    wait_until(
        lambda: len(proc.events("notification_attempt_failed")) >= len(crossing),
        10,
        lambda: f"failed delivery attempts while down:\n{proc.tail()}",
    )
    time.sleep(max(0.0, 5 - (time.monotonic() - went_down)))  # down for ~5 s in all
    assert proc.events("notification_sent") == []
    webhook.start()

    # The retries (1, 2, 4, 8, 16 s) bring each alert through once the receiver is back.
    wait_until(
        lambda: len(webhook.messages) >= len(crossing),
        35,
        lambda: f"3 alerts after the outage, got {titles(webhook.messages)}:\n{proc.tail()}",
    )
    proc.wait_for_polls(crossing, 3)  # more polls: nothing new to say, nothing re-sent
    time.sleep(1)

    messages = webhook.messages
    assert len(messages) == len(crossing), titles(messages)
    for provider in crossing:
        about = webhook.about(provider)
        assert len(about) == 1, titles(messages)
        assert about[0]["type"] == "warning"
        assert about[0]["title"].startswith(f"[WARNING] {provider}: balance ")
        assert "below warning threshold" in about[0]["title"]
    assert webhook.about("calm") == []
    assert len(proc.events("notification_sent")) == len(crossing)
    assert proc.events("notification_failed") == []  # nobody gave up
    assert len(proc.events("notification_attempt_failed")) >= len(crossing)
    assert proc.stop() == 0


# -- (b) a provider that fails every other poll ---------------------------------------------------


def every_other_request_fails(account: Account, n: int) -> None:
    account.status = 200 if n % 2 else 500


def test_flapping_provider_alerts_by_failure_threshold(
    simulator: StartSim, webhook: HttpStub, daemon: StartDaemon
) -> None:
    sim = simulator(
        [
            Account("flap3-ok", "browser7", "key-1", Decimal(100)),
            Account("flap3-low", "youcom", "key-2", Decimal("15.00")),  # below warning
            Account("flap1", "lobstr", "key-3", Decimal(8000)),
        ]
    )
    for name in ("flap3-ok", "flap3-low", "flap1"):
        sim.script(name, every_other_request_fails)
    usd = {"warning": 20, "critical": 5, "failure_threshold": 3}
    proc = daemon(
        sim.config(
            {"hook": webhook.apprise_url},
            {"notify": ["hook"]},
            {
                "flap3-ok": usd,
                "flap3-low": usd,
                "flap1": {"warning": 2000, "critical": 500, "failure_threshold": 1},
            },
        )
    )
    names = ["flap3-ok", "flap3-low", "flap1"]
    proc.wait_for_polls(names, 10, timeout=40)
    for name in names:  # steady again, so the last transition settles
        sim.script(name, None)
        sim.set(name, status=200)
    proc.wait_for_polls(names, 2)

    for name in names:  # the flapping really happened, at every poll
        polls = proc.polls(name)
        failed = [p for p in polls if p["event"] == "poll_failed"]
        assert len(failed) >= 5, [p["event"] for p in polls]
        assert longest_failure_run(polls) == 1, [p["event"] for p in polls]

    # failure_threshold 3: one failure at a time never makes "cannot check"; the low balance
    # is announced once, and failed polls neither resolve nor remind it.
    assert webhook.about("flap3-ok") == []
    low = webhook.about("flap3-low")
    assert len(low) == 1, titles(low)
    assert low[0]["title"].startswith("[WARNING] flap3-low: balance $15.00 below warning")
    assert not any("cannot check" in t for t in titles(low))

    # failure_threshold 1: each failure is a "cannot check", each recovery its resolution.
    expected = fetch_notifications(proc.polls("flap1"), failure_threshold=1)
    assert expected.count("warning") == len(
        [p for p in proc.polls("flap1") if p["event"] == "poll_failed"]
    )

    def flap1_types() -> list[str]:
        return [str(m["type"]) for m in webhook.about("flap1")]

    wait_until(
        lambda: flap1_types() == expected,
        10,
        lambda: f"flap1 notifications {flap1_types()} == {expected}:\n{proc.tail()}",
    )
    for message in webhook.about("flap1"):
        if message["type"] == "warning":
            assert message["title"].startswith("[WARNING] flap1: cannot check balance")
            assert "provider unavailable (HTTP 500)" in message["message"]
        else:
            assert message["title"].startswith("[RESOLVED] flap1: balance can be checked")
    assert proc.stop() == 0
    assert flap1_types() == fetch_notifications(proc.polls("flap1"), failure_threshold=1)
    assert len(webhook.messages) == 1 + len(expected)


# -- (c) a balance hovering at the warning line -----------------------------------------------


def hovering(account: Account, n: int) -> None:
    account.balance = Decimal("19.90") if n % 2 else Decimal("20.10")


def test_hovering_balance_warns_once_with_recovery_margin(
    simulator: StartSim, webhook: HttpStub, daemon: StartDaemon
) -> None:
    sim = simulator(
        [
            Account("hover", "browser7", "key-1", Decimal("19.90")),
            Account("hover-no-margin", "browser7", "key-2", Decimal("19.90")),  # the control
        ]
    )
    sim.script("hover", hovering)
    sim.script("hover-no-margin", hovering)
    levels = {"warning": 20, "critical": 5}
    proc = daemon(
        sim.config(
            {"hook": webhook.apprise_url},
            {"notify": ["hook"]},
            {
                "hover": {**levels, "recovery_margin": "5%"},
                "hover-no-margin": levels,
            },
        )
    )
    proc.wait_for_polls(["hover", "hover-no-margin"], 10, timeout=40)

    balances = [p.get("balance") for p in proc.polls("hover")]
    assert {"19.9", "20.1"} <= set(balances), balances  # it did cross the line, both ways
    hover = webhook.about("hover")
    assert len(hover) == 1, titles(hover)
    assert hover[0]["title"].startswith("[WARNING] hover: balance $19.90 ")
    assert "below warning threshold" in hover[0]["title"]

    # Clearing takes a balance above 20 + 5% = 21.00: then exactly one resolution.
    sim.script("hover", None)
    sim.set("hover", balance=Decimal("21.50"))
    sim.script("hover-no-margin", None)
    sim.set("hover-no-margin", balance=Decimal("19.90"))
    wait_until(lambda: len(webhook.about("hover")) >= 2, 10, lambda: proc.tail())
    proc.wait_for_polls(["hover", "hover-no-margin"], 2)
    hover = webhook.about("hover")
    assert [m["type"] for m in hover] == ["warning", "success"], titles(hover)
    assert hover[1]["title"].startswith("[RESOLVED] hover: balance $21.50 ")

    # The control without a margin: one message per crossing (so the line was really crossed),
    # no more: exactly what the polled balances imply.
    polled = [Decimal(p["balance"]) for p in proc.polls("hover-no-margin") if p["event"] == "poll"]
    expected = notifications([balance < 20 for balance in polled])
    assert len(expected) >= 8, polled

    def control() -> list[str]:
        return [str(m["type"]) for m in webhook.about("hover-no-margin")]

    wait_until(lambda: control() == expected, 10, lambda: f"{control()} == {expected}")
    assert proc.stop() == 0
    assert control() == expected
