"""Golden texts of every kind of notification: what a person reads in Slack or in a mailbox.

Each scenario is a short history of polls fed through the real core (`step`, with the
provider's real adapter reading each body); the notification the last poll produces is
rendered and compared with tests/golden/<scenario>.txt: the title, a blank line, the body,
a blank line, the Apprise notify type. After an intended change of wording, regenerate with

    ALERTD_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py

and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.core import ONCALL, OPS, poll

from alertd.config.model import ProviderConfig
from alertd.core.evaluate import BALANCE, FETCH
from alertd.core.model import Reading, Severity
from alertd.core.render import Message, probe_message, render
from alertd.core.rules import Destination
from alertd.core.state import Reason
from alertd.core.step import Notification, ProviderState
from alertd.errors import AuthError, ProviderError, UnavailableError
from alertd.providers import build
from alertd.providers.base import decode_json

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = Path(__file__).parent / "fixtures"
UPDATE = os.environ.get("ALERTD_UPDATE_GOLDEN") == "1"

OK, WARNING, CRITICAL = Severity.OK, Severity.WARNING, Severity.CRITICAL
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=4)  # when a reminded condition began


# -- the providers, as users configure them -----------------------------------------------


def _browser7(cents: int) -> dict[str, Any]:
    bonus = min(cents, 150)
    return {
        "totalBalanceCents": cents,
        "totalBalanceFormatted": f"${cents / 100:.2f}",
        "breakdown": {
            "paid": {"cents": cents - bonus, "formatted": ""},
            "free": {"cents": 0, "formatted": "$0.00"},
            "bonus": {"cents": bonus, "formatted": ""},
        },
    }


def _youcom(cents: str) -> str:
    return f'{{"data": {{"type": "account", "id": "3f0c", "attributes": {{"balance": {cents}}}}}}}'


def _lobstr(consumed: int, unpaid: bool = False) -> dict[str, Any]:
    documented: dict[str, Any] = json.loads((FIXTURES / "lobstr" / "balance.json").read_text())
    changes = {"consumed": consumed, "has_unpaid_bill": unpaid}
    return documented | changes | {"reset_time": "2026-04-01T00:00:00Z"}


def _srtgen(total: int, pro_status: str = "active", usage_gb: int = 2) -> dict[str, Any]:
    starter = min(total, 1000)
    return {
        "success": True,
        "user": {"name": "Alex Rivera", "email": "alex@example.com"},
        "credits": {
            "totalBalance": total,
            "totalMonthlyCredits": 3000,
            "extraCredits": total - starter,
            "plans": [
                {"name": "Starter Plan", "status": "active", "balance": starter, "total": 1000},
                {"name": "Pro Plan", "status": pro_status, "balance": 0, "total": 2000},
            ],
        },
        "storage": {
            "usage": usage_gb * 1024**3,
            "limit": 10 * 1024**3,
            "formattedUsage": f"{usage_gb} GB",
            "formattedLimit": "10 GB",
        },
    }


def _decaptcha(text: str) -> dict[str, Any]:
    return {"isSuccess": True, "statusCode": 200, "errorMessage": None, "data": text}


PROVIDERS: dict[str, tuple[str, dict[str, Any], Callable[..., Any]]] = {
    # provider type -> (provider name, thresholds, body builder)
    "browser7": ("browser7-prod", {"warning": "20", "critical": "5"}, _browser7),
    "youcom": ("youcom-search", {"warning": "100", "critical": "10"}, _youcom),
    "lobstr": ("lobstr", {"warning": "20%", "critical": "500"}, _lobstr),
    "srtgen": ("srtgen", {"warning": "400", "critical": "100"}, _srtgen),
    "decaptcha": ("decaptcha-eu", {"warning": "50", "critical": "10"}, _decaptcha),
}

# The body argument for each reason: a balance that has that reason's severity.
AMOUNTS: dict[str, dict[str, Any]] = {
    "browser7": {"first": 1700, "escalated": 450, "improved": 850, "reminder": 1520,
                 "resolved": 3250},
    "youcom": {"first": "7500.5", "escalated": "850.25", "improved": "4000", "reminder": "5000.5",
               "resolved": "718924.5"},
    "lobstr": {"first": 8500, "escalated": 9600, "improved": 9000, "reminder": 9750,
               "resolved": 1550},
    "srtgen": {"first": 310, "escalated": 50, "improved": 250, "reminder": 80, "resolved": 1250},
    "decaptcha": {"first": "42.10", "escalated": "9.99", "improved": "30.00", "reminder": "41.00",
                  "resolved": "1,250.75"},
}  # fmt: skip

# reason: (severity told, severity told before)
TRANSITIONS = {
    "first": (WARNING, OK),
    "escalated": (CRITICAL, WARNING),
    "improved": (WARNING, CRITICAL),
    "reminder": (WARNING, WARNING),
    "resolved": (OK, WARNING),
}
CRITICAL_REMINDER = {"lobstr", "srtgen"}  # reminded of a critical balance instead


def config(ptype: str, **changes: Any) -> ProviderConfig:
    base = {"type": ptype, "api_key": "k", "base_url": "https://api.example.com"}
    return ProviderConfig(**(base | PROVIDERS[ptype][1] | changes))


def reading(cfg: ProviderConfig, body: Any, when: datetime = NOW) -> Reading:
    raw = body if isinstance(body, str) else json.dumps(body)
    return build("x", cfg).parse(decode_json(raw.encode()), when)


History = list[tuple[timedelta, Any]]  # (how long before NOW, body or ProviderError)


def notified(
    ptype: str,
    check: str,
    history: History,
    cfg: ProviderConfig | None = None,
    routes: tuple[Destination, ...] = (OPS,),
    to: str = "ops",
) -> Notification:
    """The notification to `to` about `check` that the last poll of `history` produces."""
    cfg = cfg or config(ptype)
    state = ProviderState()
    sent: tuple[Notification, ...] = ()
    for before, outcome in history:
        when = NOW - before
        if not isinstance(outcome, ProviderError):
            outcome = reading(cfg, outcome, when)
        result = poll(state, outcome, cfg, when, routes, name=PROVIDERS[ptype][0])
        state, sent = result.state, result.notifications
    [notification] = [n for n in sent if n.check == check and n.destination.notifier == to]
    return notification


# The poll before the one notified, for each reason: which amount it read, how long before.
BEFORE = {
    "first": None,
    "escalated": ("first", timedelta(hours=1)),
    "improved": ("escalated", timedelta(hours=1)),
    "reminder": ("reminder", timedelta(hours=4)),  # repeat_interval 4h: reminded now
    "resolved": ("first", timedelta(hours=1)),
}


def balance_scenario(ptype: str, name: str) -> Notification:
    body = PROVIDERS[ptype][2]
    history: History = []
    step_before = BEFORE[name]
    if step_before is not None:
        earlier, before = step_before
        history.append((before, body(AMOUNTS[ptype][earlier])))
    history.append((timedelta(0), body(AMOUNTS[ptype][name])))
    built = notified(ptype, BALANCE, history)
    told, previous = TRANSITIONS[name]
    if name == "reminder" and ptype in CRITICAL_REMINDER:
        told, previous = CRITICAL, CRITICAL
    assert (built.reason, built.severity, built.previous) == (Reason(name), told, previous)
    return built


UNAVAILABLE = UnavailableError("provider unavailable (HTTP 503)")
TIMEOUT = UnavailableError("timed out after 10s")
YOUCOM_OK = _youcom("5000.5")
SECOND = timedelta(seconds=1)

SCENARIOS: dict[str, Notification] = {
    f"{ptype}_{name}": balance_scenario(ptype, name) for ptype in PROVIDERS for name in TRANSITIONS
}
SCENARIOS |= {
    # the third failed poll in a row after an hour-old reading
    "fetch_cannot_check": notified("youcom", FETCH, [
        (timedelta(hours=1), YOUCOM_OK), (2 * SECOND, UNAVAILABLE), (SECOND, UNAVAILABLE),
        (timedelta(0), UNAVAILABLE),
    ]),
    # failing since 4h ago (third failure), 51 in a row by now
    "fetch_cannot_check_reminder": notified("youcom", FETCH, [
        (timedelta(hours=5), YOUCOM_OK),
        *[(timedelta(hours=4) + (2 - n) * SECOND, TIMEOUT) for n in range(3)],
        *[(timedelta(hours=4) * (1 - n / 48), TIMEOUT) for n in range(1, 49)],
    ]),
    "fetch_credentials_rejected_never_checked": notified("youcom", FETCH, [
        (timedelta(0), AuthError("credentials rejected (HTTP 401)")),
    ]),
    "fetch_resolved": notified("youcom", FETCH, [
        (3 * SECOND, UNAVAILABLE), (2 * SECOND, UNAVAILABLE), (SECOND, UNAVAILABLE),
        (timedelta(0), YOUCOM_OK),
    ]),
    "lobstr_unpaid_bill_first": notified("lobstr", "unpaid_bill", [
        (timedelta(0), _lobstr(1550, unpaid=True)),
    ]),
    "lobstr_unpaid_bill_resolved": notified("lobstr", "unpaid_bill", [
        (timedelta(hours=1), _lobstr(1550, unpaid=True)), (timedelta(0), _lobstr(1550)),
    ]),
    "srtgen_plan_status_first": notified("srtgen", "plan_status", [
        (timedelta(0), _srtgen(1250, "past_due")),
    ]),
    "srtgen_storage_reminder": notified("srtgen", "storage", [
        (timedelta(hours=4), _srtgen(1250, usage_gb=9)), (timedelta(0), _srtgen(1250, usage_gb=9)),
    ]),
    # $20.50 is above the $20 threshold but not above $21 (recovery_margin 5%): still warning
    "browser7_reminder_within_recovery_margin": notified("browser7", BALANCE, [
        (timedelta(hours=4), _browser7(1900)), (timedelta(0), _browser7(2050)),
    ], cfg=config("browser7", recovery_margin="5%")),
    # what a `min_severity: critical` notifier hears when critical improves to warning
    "browser7_resolved_for_critical_only_notifier": notified("browser7", BALANCE, [
        (timedelta(hours=1), _browser7(450)), (timedelta(0), _browser7(850)),
    ], routes=(OPS, ONCALL), to="oncall"),
}  # fmt: skip


def as_text(message: Message) -> str:
    return f"{message.title}\n\n{message.body}\n\nnotify_type: {message.notify_type}\n"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name: str) -> None:
    path = GOLDEN / f"{name}.txt"
    text = as_text(render(SCENARIOS[name]))
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with ALERTD_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name}: render() differs from {path}"


def test_every_golden_file_has_a_scenario() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(SCENARIOS)


# -- what holds for every message, whatever its golden text ----------------------------------

TAGS = {WARNING: "WARNING", CRITICAL: "CRITICAL", OK: "RESOLVED"}
TYPES = {WARNING: "warning", CRITICAL: "failure", OK: "success"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_title_names_severity_and_provider_and_type_follows_severity(name: str) -> None:
    scenario = SCENARIOS[name]
    message = render(scenario)
    assert message.title.startswith(f"[{TAGS[scenario.severity]}] {scenario.provider}: ")
    assert message.notify_type == TYPES[scenario.severity]
    assert "\n" not in message.title
    assert message.body.endswith(f"Checked at: {NOW:%Y-%m-%d %H:%M:%S} UTC")


@pytest.mark.parametrize(
    ("name", "balance", "threshold"),
    [
        ("browser7_improved", "$8.50 (850 renders)", "$20.00 (2,000 renders)"),
        ("youcom_resolved", "$7,189.245", "$100.00"),
        ("lobstr_first", "1,500 credits", "2,000 credits"),  # 20% of 10,000 available
        ("srtgen_escalated", "50 credits", "100 credits"),
        ("decaptcha_resolved", "$1,250.75", "$50.00"),
    ],
)
def test_balance_and_threshold_are_in_the_providers_unit(
    name: str, balance: str, threshold: str
) -> None:
    message = render(SCENARIOS[name])
    assert f"balance {balance} " in message.title
    assert f"\nBalance: {balance}\n" in message.body
    assert f"\nThreshold: {threshold}\n" in message.body


def test_a_balance_held_by_the_recovery_margin_is_not_called_below_its_threshold() -> None:
    message = render(SCENARIOS["browser7_reminder_within_recovery_margin"])
    assert "below" not in message.title
    assert "not yet back above warning threshold" in message.title
    assert "Detail: not yet back above warning threshold $21.00 (2,100 renders)" in message.body


def test_a_critical_only_notifier_is_told_which_alert_ended() -> None:
    message = render(SCENARIOS["browser7_resolved_for_critical_only_notifier"])
    assert message.title == (
        "[RESOLVED] browser7-prod: balance $8.50 (850 renders) back above critical threshold"
    )
    assert "Detail: below warning threshold $20.00 (2,000 renders)" in message.body


def test_probe_message_is_info() -> None:
    message = probe_message("ops", NOW)
    assert message == Message(
        "[TEST] alertd notifier 'ops' works",
        "This is a test message from alertd through notifier 'ops'.\n"
        "Sent at: 2026-03-02 09:30:00 UTC",
        "info",
    )
