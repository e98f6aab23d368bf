"""The core's one step: who is told (destinations), how one poll moves every check, and
what the notifications it returns carry.

Signals are read through the real provider adapters from documented-shape bodies, so a
lobstr unpaid bill or an srtgen plan that is `past_due` is followed all the way to the
notification it produces.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.core import ONCALL, OPS, T0, poll, told

from alertd.config.model import AlertdConfig, ProviderConfig
from alertd.config.rules import alert_policy_of, destinations
from alertd.core.evaluate import BALANCE, FETCH
from alertd.core.model import Failure, Poll, Reading, Severity, Signal
from alertd.core.rules import AlertPolicy, Destination
from alertd.core.state import Reason, Sent
from alertd.core.step import ProviderState, abandoned, delivered
from alertd.errors import UnavailableError
from alertd.providers import build
from alertd.providers.base import decode_json

OK, WARNING, CRITICAL = Severity.OK, Severity.WARNING, Severity.CRITICAL

SLACK = "slack://TokenA/TokenB/TokenC/#alerts"
MAIL = "mailto://user:Sm7pS3cret@smtp.example.com?to=oncall@example.com"
HOOK = "json://hooks.example.com/alertd?+X-Token=h00kT0ken"


@pytest.fixture(autouse=True)
def _no_alertd_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """AlertdConfig reads ALERTD_* overrides: only what a test builds may count."""
    for key in list(os.environ):
        if key.startswith("ALERTD_"):
            monkeypatch.delenv(key)


def config(notifiers: dict[str, Any], notify: list[str] | None) -> AlertdConfig:
    provider: dict[str, Any] = {"type": "youcom", "api_key": "k"}
    if notify is not None:
        provider["notify"] = notify
    return AlertdConfig.model_validate({"notifiers": notifiers, "providers": {"acct": provider}})


NOTIFIERS: dict[str, Any] = {
    "ops": SLACK,
    "oncall": {"urls": [MAIL, HOOK], "min_severity": "critical"},
    "hook": HOOK,
}


def routes(cfg: AlertdConfig) -> list[tuple[str, int, Severity]]:
    return [(d.notifier, d.url_index, d.floor) for d in destinations(cfg, "acct")]


# -- destinations ---------------------------------------------------------------------------


def test_destinations_follow_the_notify_list_one_per_url() -> None:
    assert routes(config(NOTIFIERS, ["oncall", "ops"])) == [
        ("oncall", 0, CRITICAL),
        ("oncall", 1, CRITICAL),
        ("ops", 0, WARNING),
    ]


def test_without_a_notify_list_every_notifier_is_told() -> None:
    assert routes(config(NOTIFIERS, None)) == [
        ("ops", 0, WARNING),
        ("oncall", 0, CRITICAL),
        ("oncall", 1, CRITICAL),
        ("hook", 0, WARNING),
    ]


def test_an_empty_notify_list_tells_nobody() -> None:
    assert routes(config(NOTIFIERS, [])) == []


def test_destination_keys_survive_reordering_and_added_urls() -> None:
    before = {
        (d.notifier, d.url_index): d.key for d in destinations(config(NOTIFIERS, None), "acct")
    }
    reordered = {
        "hook": HOOK,
        "oncall": {"urls": ["json://new.example.com/x", MAIL, HOOK], "min_severity": "critical"},
        "ops": SLACK,
    }
    after = {
        (d.notifier, d.url_index): d.key for d in destinations(config(reordered, None), "acct")
    }

    assert after[("ops", 0)] == before[("ops", 0)]
    assert after[("hook", 0)] == before[("hook", 0)]
    assert after[("oncall", 1)] == before[("oncall", 0)]  # MAIL moved from index 0 to 1
    assert after[("oncall", 2)] == before[("oncall", 1)]
    assert after[("oncall", 0)] not in before.values()


def test_destination_keys_are_distinct_and_carry_no_secret() -> None:
    keys = [d.key for d in destinations(config(NOTIFIERS, None), "acct")]
    assert len(set(keys)) == len(keys)  # HOOK in two notifiers: two keys
    assert [key.split(":")[0] for key in keys] == ["ops", "oncall", "oncall", "hook"]
    for key in keys:
        for secret in ("Token", "Sm7pS3cret", "h00kT0ken", "smtp.example.com", "hooks.example"):
            assert secret not in key


# -- one step per poll --------------------------------------------------------------------------


def provider(ptype: str, **changes: Any) -> ProviderConfig:
    return ProviderConfig(**({"type": ptype, "api_key": "k"} | changes))


def parsed(cfg: ProviderConfig, body: dict[str, Any], when: datetime = T0) -> Reading:
    """The reading the real adapter makes of a JSON body (numbers as Decimal)."""
    return build("acct", cfg).parse(decode_json(json.dumps(body).encode()), when)


def checks_and_told(
    cfg: ProviderConfig, reading: Reading, previous: ProviderState | None = None
) -> tuple[dict[str, tuple[Severity, str]], list[tuple[str, str, Severity]], ProviderState]:
    """One poll (every notification delivered to OPS): each check's (severity, detail), what
    OPS was told as (check, reason, severity), and the state after it."""
    result = poll(previous or ProviderState(), reading, cfg, reading.checked_at)
    states = {check: (s.severity, s.detail) for check, s in result.state.checks.items()}
    return states, [(c, r, s) for _, c, r, s in told(result.notifications)], result.state


FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOBSTR: dict[str, Any] = json.loads((FIXTURES / "lobstr" / "balance.json").read_text())


def srtgen_body(status: str = "active", usage: int = 209715200, total: int = 1250) -> Any:
    return {
        "success": True,
        "credits": {
            "totalBalance": total,
            "totalMonthlyCredits": 1000,
            "extraCredits": 250,
            "plans": [
                {"name": "Starter Plan", "status": "active", "balance": 1000, "total": 1000},
                {"name": "Pro Plan", "status": status, "balance": 0, "total": 2000},
            ],
        },
        "storage": {"usage": usage, "limit": 1000, "formattedUsage": None},
    }


def test_lobstr_unpaid_bill_is_a_check_of_its_own() -> None:
    cfg = provider("lobstr", warning="20%", critical="500")
    states, due, _ = checks_and_told(cfg, parsed(cfg, LOBSTR | {"has_unpaid_bill": True}))

    assert states == {
        BALANCE: (OK, "above warning threshold 2,000 credits"),
        "unpaid_bill": (WARNING, "unpaid bill outstanding"),
        FETCH: (OK, "checked successfully"),
    }
    assert due == [("unpaid_bill", "first", WARNING)]


def test_lobstr_paid_bill_and_low_balance_alert_on_balance_only() -> None:
    cfg = provider("lobstr", warning="20%", critical="500")
    states, due, _ = checks_and_told(cfg, parsed(cfg, LOBSTR | {"consumed": 9600}))

    assert states[BALANCE] == (CRITICAL, "below critical threshold 500 credits")
    assert states["unpaid_bill"] == (OK, "no unpaid bill")
    assert due == [(BALANCE, "first", CRITICAL)]


def test_srtgen_past_due_plan_and_full_storage_are_separate_alerts() -> None:
    cfg = provider("srtgen", warning="400", critical="100")
    states, due, _ = checks_and_told(cfg, parsed(cfg, srtgen_body("past_due", usage=950)))

    assert states["plan_status"] == (WARNING, "Pro Plan is past_due")
    assert states["storage"] == (WARNING, "storage 950 of 1000 bytes used (95%)")
    assert states[BALANCE][0] == OK
    assert due == [
        ("plan_status", "first", WARNING),
        ("storage", "first", WARNING),
    ]


@pytest.mark.parametrize(
    ("usage", "storage_warning", "expected"),
    [
        pytest.param(899, None, OK, id="89.9% under the default 90%"),
        pytest.param(900, None, WARNING, id="exactly 90%"),
        pytest.param(1000, None, WARNING, id="full"),
        pytest.param(600, "50%", WARNING, id="60% over a 50% limit"),
        pytest.param(600, "0.7", OK, id="60% under a 0.7 limit"),
    ],
)
def test_srtgen_storage_against_storage_warning(
    usage: int, storage_warning: str | None, expected: Severity
) -> None:
    extra = {"storage_warning": storage_warning} if storage_warning else {}
    cfg = provider("srtgen", **extra)
    states, _, _ = checks_and_told(cfg, parsed(cfg, srtgen_body(usage=usage)))
    assert states["storage"][0] == expected


def test_signals_resolve_independently() -> None:
    cfg = provider("srtgen", warning="400")
    _, _, state = checks_and_told(cfg, parsed(cfg, srtgen_body("past_due", usage=950)))
    later = T0 + timedelta(minutes=5)
    _, due, _ = checks_and_told(cfg, parsed(cfg, srtgen_body("active", usage=950), later), state)
    assert due == [("plan_status", "resolved", OK)]


def test_a_signal_no_longer_reported_is_resolved() -> None:
    cfg = provider("youcom")
    flagged = Reading(
        Decimal(50),
        "USD",
        T0,
        signals=(Signal("unpaid_bill", "unpaid bill outstanding", flagged=True),),
    )
    states, _, state = checks_and_told(cfg, flagged)
    assert states["unpaid_bill"][0] == WARNING

    later = T0 + timedelta(minutes=5)
    states, due, _ = checks_and_told(cfg, Reading(Decimal(50), "USD", later), state)

    assert states["unpaid_bill"] == (OK, "no longer reported by the provider")
    assert due == [("unpaid_bill", "resolved", OK)]


def test_a_failed_first_poll_creates_only_the_fetch_check() -> None:
    cfg = provider("youcom", failure_threshold=1)
    result = poll(ProviderState(), UnavailableError("timed out after 10s"), cfg, T0)
    assert result.state.findings == {}
    assert result.state.reading is None
    assert list(result.state.checks) == [FETCH]
    fetch = result.state.checks[FETCH]
    assert (fetch.severity, fetch.detail) == (WARNING, "cannot check: timed out after 10s")
    [notification] = result.notifications
    assert notification.failure == "timed out after 10s"  # the raw reason, for the title


def test_alert_policy_of_takes_the_providers_settings() -> None:
    cfg = provider("youcom", repeat_interval="90m", notify_resolved=False, failure_threshold=5)
    assert alert_policy_of(cfg) == AlertPolicy(timedelta(minutes=90), False, 5)


def test_a_notifier_added_by_a_reload_hears_of_alerts_in_progress_and_no_one_else_again() -> None:
    cfg = provider("youcom", warning="20")
    added = Destination("pager:bbbbbbbbbbbb", "pager", 0, Severity.WARNING)
    first = poll(ProviderState(), "19", cfg, T0)
    assert told(first.notifications) == [("ops", BALANCE, "first", WARNING)]
    later = poll(first.state, "18", cfg, T0 + timedelta(minutes=5), routes=[OPS, added])
    assert told(later.notifications) == [("pager", BALANCE, "first", WARNING)]


# -- deliveries under way ----------------------------------------------------------------------


def test_news_being_delivered_is_not_sent_again_until_it_ends() -> None:
    cfg = provider("youcom", warning="20", critical="5")
    first = poll(ProviderState(), "19", cfg, T0, deliver=False)
    [warning] = first.notifications
    assert first.state.pending == {(BALANCE, OPS.key): WARNING}

    again = poll(first.state, "18", cfg, T0 + timedelta(minutes=1), deliver=False)
    assert again.notifications == ()  # the same news, still being delivered

    worse = poll(again.state, "4", cfg, T0 + timedelta(minutes=2), deliver=False)
    assert told(worse.notifications) == [("ops", BALANCE, "first", CRITICAL)]
    # the warning's delivery, cancelled by the engine, ends: the critical stays pending
    assert abandoned(worse.state, warning).pending == {(BALANCE, OPS.key): CRITICAL}


def test_an_abandoned_delivery_is_decided_again_at_the_next_poll() -> None:
    cfg = provider("youcom", warning="20")
    first = poll(ProviderState(), "19", cfg, T0, deliver=False)
    [notification] = first.notifications
    gave_up = abandoned(first.state, notification)
    assert gave_up.pending == {}
    assert BALANCE not in {c for c, s in gave_up.checks.items() if s.sent}

    retried = poll(gave_up, "19", cfg, T0 + timedelta(minutes=1))
    assert told(retried.notifications) == [("ops", BALANCE, "first", WARNING)]


def test_delivered_records_what_was_told_and_when() -> None:
    cfg = provider("youcom", warning="20")
    first = poll(ProviderState(), "19", cfg, T0, deliver=False)
    [notification] = first.notifications
    later = T0 + timedelta(seconds=3)
    state = delivered(first.state, notification, later)
    assert state.pending == {}
    assert state.checks[BALANCE].sent[OPS.key] == Sent(WARNING, later)


def test_a_silent_resolution_is_recorded_and_reported_apart() -> None:
    cfg = provider("youcom", warning="20", notify_resolved=False)
    low = poll(ProviderState(), "19", cfg, T0)
    back = poll(low.state, "25", cfg, T0 + timedelta(hours=1))
    assert back.notifications == ()
    assert [(s.check, s.destination) for s in back.silenced] == [(BALANCE, OPS)]
    assert back.state.checks[BALANCE].sent == {}


# -- what a notification carries ---------------------------------------------------------------


def test_a_balance_held_by_the_recovery_margin_says_so() -> None:
    cfg = provider("youcom", warning="20", recovery_margin="5%", repeat_interval="1h")
    low = poll(ProviderState(), "19", cfg, T0)
    held = poll(low.state, "20.50", cfg, T0 + timedelta(hours=1))
    [reminder] = held.notifications
    assert (reminder.reason, reminder.severity, reminder.held_by_margin) == (
        Reason.REMINDER,
        WARNING,
        True,
    )
    assert reminder.threshold == Decimal(20)
    [first] = low.notifications
    assert first.held_by_margin is False


def test_a_floor_hides_the_current_severity_but_the_notification_keeps_it() -> None:
    cfg = provider("youcom", warning="20", critical="5")
    low = poll(ProviderState(), "4", cfg, T0, routes=[OPS, ONCALL])
    better = poll(low.state, "8", cfg, T0 + timedelta(hours=1), routes=[OPS, ONCALL])
    by_notifier = {n.destination.notifier: n for n in better.notifications}
    oncall = by_notifier["oncall"]
    assert (oncall.reason, oncall.severity, oncall.previous, oncall.current) == (
        Reason.RESOLVED,
        OK,
        CRITICAL,
        WARNING,
    )
    assert by_notifier["ops"].reason is Reason.IMPROVED


# -- rate limits -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "deferred_for"),
    [
        pytest.param(30.0, timedelta(seconds=30), id="a short wait is honoured"),
        pytest.param(86399.0, timedelta(minutes=15), id="a day is capped at 3 intervals"),
        pytest.param(None, None, id="no Retry-After: no deferral"),
    ],
)
def test_a_rate_limit_defers_the_next_poll_up_to_a_cap(
    retry_after: float | None, deferred_for: timedelta | None
) -> None:
    cfg = provider("youcom", interval="5m", failure_threshold=3)
    limited = Failure("rate limited (HTTP 429)", retry_after=retry_after)
    result = poll(ProviderState(), limited, cfg, T0)
    expected = None if deferred_for is None else T0 + deferred_for
    assert result.state.not_before == expected
    assert result.state.deferred(T0 + timedelta(seconds=1)) is (expected is not None)


def test_a_reading_ends_a_deferral() -> None:
    cfg = provider("youcom")
    limited = poll(ProviderState(), Failure("rate limited", retry_after=60), cfg, T0)
    assert limited.state.not_before is not None
    ok = poll(limited.state, "50", cfg, T0 + timedelta(minutes=2))
    assert ok.state.not_before is None


def test_a_poll_has_a_reading_or_a_failure() -> None:
    with pytest.raises(ValueError, match="either a reading or a failure"):
        Poll(T0)
