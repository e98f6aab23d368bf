"""The `runway` and `spend_spike` checks (SPEC §6) through the real step, and what the
messages say about the forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from support.core import poll, told

from alertd.config.model import ProviderConfig
from alertd.core.model import Reading, Severity
from alertd.core.render import render
from alertd.core.step import Notification, ProviderState

T0 = datetime(2026, 11, 20, tzinfo=UTC)
OK, WARNING, CRITICAL = Severity.OK, Severity.WARNING, Severity.CRITICAL


def config(**overrides: Any) -> ProviderConfig:
    base: dict[str, Any] = {
        "type": "browser7",
        "api_key": "k",
        "warning": "20",
        "runway_warning": "7d",
        "runway_critical": "2d",
        "burn_window": "7d",
        "repeat_interval": 0,
    }
    return ProviderConfig.model_validate(base | overrides)


class Account:
    """A balance read hourly through the real step; `drain` per day."""

    def __init__(self, cfg: ProviderConfig, balance: str, drain: str) -> None:
        self.cfg, self.balance, self.drain = cfg, Decimal(balance), Decimal(drain)
        self.at, self.state = T0, ProviderState()
        self.sent: list[Notification] = []

    def hours(self, count: int) -> list[Notification]:
        sent = []
        for _ in range(count):
            self.balance -= self.drain / 24
            sent += self.read(timedelta(hours=1))
        return sent

    def read(self, later: timedelta = timedelta(minutes=1)) -> list[Notification]:
        self.at += later
        reading = Reading(self.balance.quantize(Decimal("0.01")), "USD", self.at)
        result = poll(self.state, reading, self.cfg, self.at)
        self.state = result.state
        self.sent += result.notifications
        return list(result.notifications)


def test_runway_warns_days_before_the_balance_threshold_and_a_top_up_resolves_it() -> None:
    account = Account(config(), "100", "10")  # $10/day: $20 reached on day 8
    early = account.hours(24 * 2)
    assert told(early) == []  # runway 8+ days: beyond 7d
    warned = account.hours(24 * 2)
    assert told(warned) == [("ops", "runway", "first", WARNING)]
    assert account.state.checks["balance"].severity is OK  # $67: far above $20
    message = render(warned[0])
    assert message.title == "[WARNING] acct: runs out in ~7.0 days, within the warning runway of 7d"
    assert "Runs out: in ~7.0 days (around 2026-11-29 23:59 UTC) at $10.00/day" in message.body
    account.balance += 200
    resolved = account.read()
    assert told(resolved) == [("ops", "runway", "resolved", OK)]
    assert render(resolved[0]).title == "[RESOLVED] acct: runway back to normal"


def test_runway_escalates_to_critical_and_an_empty_balance_is_critical() -> None:
    account = Account(config(warning=None), "40", "10")
    sent = account.hours(24 * 4)
    assert [(n.check, n.reason.value, n.severity) for n in sent] == [
        ("runway", "first", WARNING),
        ("runway", "escalated", CRITICAL),
    ]
    account.hours(24)  # below zero now
    assert account.state.checks["runway"].detail.startswith("used up")
    assert account.state.checks["runway"].severity is CRITICAL


def test_no_runway_alert_without_enough_history_however_low_the_balance() -> None:
    account = Account(config(warning=None), "3", "10")
    assert told(account.hours(13)) == []
    detail = account.state.checks["runway"].detail
    assert detail == "not enough history yet (12 hours of the 1d a forecast needs)"


def test_recovery_margin_applies_to_the_days() -> None:
    """10% of 7 days: a top-up that brings the runway to 7.3 days does not clear it."""
    account = Account(config(recovery_margin="10%"), "100", "10")
    account.hours(24 * 4)
    assert account.state.checks["runway"].severity is WARNING
    account.balance += Decimal(12)  # $60 left, 6 days; $72: 7.2 days, short of 7.7
    assert account.read() == []
    assert account.state.checks["runway"].severity is WARNING
    assert "not yet clear of the 7d warning runway" in account.state.checks["runway"].detail
    account.balance += Decimal(10)
    assert told(account.read()) == [("ops", "runway", "resolved", OK)]


def test_a_spend_spike_warns_and_ends_when_spending_calms() -> None:
    account = Account(config(spend_spike="3x", runway_warning=None, runway_critical=None,
                             warning=None), "10000", "10")  # fmt: skip
    assert told(account.hours(24 * 6)) == []
    account.drain = Decimal(100)  # ten times the rate
    spiked = account.hours(12)
    assert told(spiked) == [("ops", "spend_spike", "first", WARNING)]
    assert render(spiked[0]).title.startswith("[WARNING] acct: spending spiked to 3.")
    account.drain = Decimal(10)
    calmed = account.hours(24 * 2)
    assert told(calmed) == [("ops", "spend_spike", "resolved", OK)]


def test_a_quota_lasting_until_its_reset_is_not_an_alert_and_the_message_says_so() -> None:
    cfg = config(warning="2700")  # crossed on day 3.75 at 80 credits a day
    account = Account(cfg, "3000", "80")
    reset = datetime(2026, 12, 1, tzinfo=UTC)
    sent: list[Notification] = []
    for _ in range(24 * 5):
        account.at += timedelta(hours=1)
        account.balance -= Decimal(80) / 24
        reading = Reading(account.balance, "credits", account.at, resets_at=reset)
        result = poll(account.state, reading, cfg, account.at)
        account.state, sent = result.state, sent + list(result.notifications)
    assert account.state.checks["runway"].severity is OK
    assert account.state.checks["runway"].detail == "lasts until the reset on 2026-12-01 00:00 UTC"
    assert told(sent) == [("ops", "balance", "first", WARNING)]
    body = render(sent[0]).body
    assert "Runs out: not before the reset on 2026-12-01 00:00 UTC (at 80" in body


def test_without_runway_levels_there_is_no_runway_check_but_the_message_has_the_forecast() -> None:
    account = Account(config(runway_warning=None, runway_critical=None), "40", "10")
    sent = account.hours(24 * 3)
    assert "runway" not in account.state.checks
    assert told(sent) == [("ops", "balance", "first", WARNING)]
    assert "Runs out: in ~2.0 days" in render(sent[0]).body
