"""SIGHUP (SPEC §4): changed providers are rescheduled, added ones polled, removed ones
dropped, the alert state of the others kept; an invalid new config is refused with an error
and the old one keeps running.
"""

from __future__ import annotations

import signal
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.daemon import (
    DaemonProcess,
    SimulatorThread,
    free_port,
    wait_until,
    write_config,
    write_text,
)
from support.http_stub import HttpStub

pytestmark = pytest.mark.e2e

Spawn = Callable[[Path], DaemonProcess]


def reload(daemon: DaemonProcess, event: str = "reloaded") -> dict[str, Any]:
    """SIGHUP, then the daemon's answer (`reloaded` or `reload_refused`) to this signal."""
    seen = len(daemon.events(("reloaded", "reload_refused")))
    daemon.send_signal(signal.SIGHUP)
    answers = daemon.wait_for(("reloaded", "reload_refused"), count=seen + 1)
    answer = answers[seen]
    assert answer["event"] == event, f"{answer}\n{daemon.tail()}"
    return answer


def titles(webhook: HttpStub, provider: str) -> list[str]:
    return [m["title"] for m in webhook.about(provider)]


def test_reload_applies_changed_providers_and_keeps_the_state_of_the_same_accounts(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    sim.account("tightened", "browser7", 15)  # ok at warning $10; warning at $20
    sim.account("steady", "youcom", 15)  # warning before and after, config unchanged
    sim.account("retuned", "lobstr", 1500)  # warning before and after, only its timeout changes
    sim.account("moved-a", "browser7", 15)  # "moved" watches this account, then moved-b:
    sim.account("moved-b", "browser7", 12)  # another account starts afresh (README)
    path = tmp_path / "config.yaml"
    hook = {"hook": webhook.apprise_url}

    def providers(tightened_warning: int, retuned_timeout: str, moved: str) -> dict[str, Any]:
        return {
            "tightened": sim.provider("tightened", warning=tightened_warning, critical=5),
            "steady": sim.provider("steady", warning=20, critical=5),
            "retuned": sim.provider(
                "retuned", warning="20%", critical=500, timeout=retuned_timeout
            ),
            "moved": sim.provider(moved, warning=20, critical=5),
        }

    daemon = spawn(write_config(path, providers(10, "2s", "moved-a"), hook))
    daemon.wait_started(["tightened", "steady", "retuned", "moved"])
    wait_until(
        lambda: all(titles(webhook, name) for name in ("steady", "retuned", "moved")),
        10,
        "the first warnings",
    )
    daemon.wait_for_polls(["tightened"], 1)
    assert titles(webhook, "tightened") == []

    write_config(path, providers(20, "3s", "moved-b"), hook)
    answer = reload(daemon)
    assert answer["changed"] == ["tightened", "retuned", "moved"]
    assert answer["added"] == []
    assert answer["removed"] == []
    assert answer["unchanged"] == 1

    wait_until(lambda: titles(webhook, "tightened"), 10, "the warning under the new threshold")
    assert titles(webhook, "tightened") == [
        "[WARNING] tightened: balance $15.00 (1,500 renders) below warning threshold"
    ]
    assert webhook.about("tightened")[0]["type"] == "warning"
    wait_until(lambda: len(titles(webhook, "moved")) == 2, 10, "the new account's warning")
    assert titles(webhook, "moved")[1] == (
        "[WARNING] moved: balance $12.00 (1,200 renders) below warning threshold"
    )

    daemon.wait_for_polls(["tightened", "steady", "retuned", "moved"], 3)
    assert len(titles(webhook, "steady")) == 1, titles(webhook, "steady")
    assert len(titles(webhook, "retuned")) == 1, titles(webhook, "retuned")
    assert len(titles(webhook, "tightened")) == 1
    assert len(titles(webhook, "moved")) == 2
    assert daemon.events("poll_job_crashed") == []


def test_reload_polls_an_added_provider_and_stops_polling_a_removed_one(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    sim.account("keeper", "browser7", 100)
    sim.account("leaver", "youcom", 100)
    sim.account("joiner", "lobstr", 1000)  # below 20% of 10,000 credits: a warning
    port = free_port()
    path = tmp_path / "config.yaml"
    hook = {"hook": webhook.apprise_url}
    keeper = sim.provider("keeper", warning=20, critical=5)
    http = {"listen": f"127.0.0.1:{port}"}

    daemon = spawn(
        write_config(
            path, {"keeper": keeper, "leaver": sim.provider("leaver", warning=20)}, hook, http=http
        )
    )
    daemon.wait_started(["keeper", "leaver"])
    assert sim["joiner"].requests == 0

    joiner = sim.provider("joiner", warning="20%", critical=500)
    write_config(path, {"keeper": keeper, "joiner": joiner}, hook, http=http)
    answer = reload(daemon)
    assert answer["added"] == ["joiner"]
    assert answer["removed"] == ["leaver"]
    assert answer["changed"] == []
    assert answer["unchanged"] == 1

    wait_until(lambda: titles(webhook, "joiner"), 10, "the added provider's warning")
    assert titles(webhook, "joiner")[0].startswith("[WARNING] joiner: balance 1,000 credits")
    daemon.wait_for_polls(["joiner"], 1)

    daemon.wait_for_polls(["keeper"], 1)  # a poll of the leaver in flight at reload is done
    requests = sim["leaver"].requests
    daemon.wait_for_polls(["keeper", "joiner"], 3)
    assert sim["leaver"].requests == requests, "the removed provider is still polled"

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'provider="joiner"' in metrics
    assert 'provider="leaver"' not in metrics, "a removed provider's series must go"


def test_reload_removing_a_provider_with_a_poll_in_flight_is_clean(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    sim.account("keeper", "browser7", 100)
    sim.account("slow", "youcom", 100).hang = True  # its poll is in flight until the timeout
    path = tmp_path / "config.yaml"
    hook = {"hook": webhook.apprise_url}
    keeper = sim.provider("keeper", warning=20)
    slow = sim.provider("slow", warning=20, timeout="3s")
    daemon = spawn(write_config(path, {"keeper": keeper, "slow": slow}, hook))
    daemon.wait_started(["keeper"])
    wait_until(lambda: sim["slow"].requests >= 1, 5, "the slow provider's first poll")

    write_config(path, {"keeper": keeper}, hook)
    assert reload(daemon)["removed"] == ["slow"]
    assert daemon.polls("slow") == [], "the reload must happen while the poll is in flight"
    daemon.wait_for_polls(["keeper"], 4)  # past the 3 s timeout: the poll has returned
    assert daemon.events("poll_job_crashed") == [], daemon.tail()


BROKEN = {
    "yaml-syntax": ("providers:\n  wallet: {type: browser7, warning: [unclosed\n", "YAML"),
    "unknown-key": (None, "warnng"),  # written below: a valid config with a misspelt key
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_reload_refuses_an_invalid_config_and_keeps_running_the_old_one(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn, kind: str
) -> None:
    sim.account("wallet", "browser7", 100)
    path = tmp_path / "config.yaml"
    hook = {"hook": webhook.apprise_url}
    daemon = spawn(write_config(path, {"wallet": sim.provider("wallet", warning=20)}, hook))
    daemon.wait_started(["wallet"])

    text, named = BROKEN[kind]
    if text is None:
        # had it been applied, its warning of $5 would silence the alert expected below
        write_config(path, {"wallet": sim.provider("wallet", warning=5, warnng=50)}, hook)
    else:
        write_text(path, text)
    refused = reload(daemon, "reload_refused")
    assert refused["level"] == "error"
    problems = "\n".join(refused["problems"])
    assert named in problems, problems
    assert str(path) in problems, problems
    if kind == "unknown-key":
        assert "wallet" in problems

    # the old config keeps running: polls go on and its threshold still alerts
    daemon.wait_for_polls(["wallet"], 2)
    sim["wallet"].balance = Decimal(10)
    wait_until(lambda: titles(webhook, "wallet"), 10, lambda: f"the warning:\n{daemon.tail()}")
    assert titles(webhook, "wallet")[0].startswith("[WARNING] wallet: balance $10.00")

    # and a refused reload does not block the next one
    sim.account("later", "youcom", 100)
    write_config(
        path,
        {"wallet": sim.provider("wallet", warning=20), "later": sim.provider("later", warning=20)},
        hook,
    )
    assert reload(daemon)["added"] == ["later"]
    daemon.wait_for_polls(["later", "wallet"], 2)
    assert len(titles(webhook, "wallet")) == 1, "the kept state must not repeat the warning"
