"""cycle.py: who is told (destinations), and how one poll moves every check (advance/plan).

Signals are read through the real provider adapters from documented-shape bodies, so a
lobstr unpaid bill or an srtgen plan that is `past_due` is followed all the way to the
notification it plans.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from alertd.config.model import AlertdConfig, ProviderConfig
from alertd.core.evaluate import BALANCE, FETCH
from alertd.core.model import Reading, Severity, Signal
from alertd.core.state import AlertPolicy, CheckState, Decision, Reason, record_sent
from alertd.cycle import Destination, advance, destinations, plan, policy_of
from alertd.errors import UnavailableError
from alertd.providers import build
from alertd.providers.base import decode_json

OK, WARNING, CRITICAL = Severity.OK, Severity.WARNING, Severity.CRITICAL
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OPS = Destination("ops:aaaaaaaaaaaa", "ops", 0, WARNING)

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
    return AlertdConfig(notifiers=notifiers, providers={"acct": provider})


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


# -- advance / plan ---------------------------------------------------------------------------


def provider(ptype: str, **changes: Any) -> ProviderConfig:
    return ProviderConfig(**({"type": ptype, "api_key": "k"} | changes))


def parsed(cfg: ProviderConfig, body: dict[str, Any], when: datetime = T0) -> Reading:
    """The reading the real adapter makes of a JSON body (numbers as Decimal)."""
    return build("acct", cfg).parse(decode_json(json.dumps(body).encode()), when)


def findings_and_plan(
    cfg: ProviderConfig, reading: Reading, previous: dict[str, CheckState] | None = None
) -> tuple[dict[str, tuple[Severity, str]], list[tuple[str, Decision]]]:
    checks, _ = advance(previous or {}, reading, None, cfg, reading.checked_at)
    due = plan(checks, [OPS], policy_of(cfg), reading.checked_at, polled_ok=True)
    states = {check: (state.severity, state.detail) for check, state in checks.items()}
    return states, [(p.check, p.decision) for p in due]


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
    states, due = findings_and_plan(cfg, parsed(cfg, LOBSTR | {"has_unpaid_bill": True}))

    assert states == {
        BALANCE: (OK, "above warning threshold 2,000 credits"),
        "unpaid_bill": (WARNING, "unpaid bill outstanding"),
        FETCH: (OK, "checked successfully"),
    }
    assert due == [("unpaid_bill", Decision(Reason.FIRST, True, WARNING))]


def test_lobstr_paid_bill_and_low_balance_alert_on_balance_only() -> None:
    cfg = provider("lobstr", warning="20%", critical="500")
    states, due = findings_and_plan(cfg, parsed(cfg, LOBSTR | {"consumed": 9600}))

    assert states[BALANCE] == (CRITICAL, "below critical threshold 500 credits")
    assert states["unpaid_bill"] == (OK, "no unpaid bill")
    assert due == [(BALANCE, Decision(Reason.FIRST, True, CRITICAL))]


def test_srtgen_past_due_plan_and_full_storage_are_separate_alerts() -> None:
    cfg = provider("srtgen", warning="400", critical="100")
    states, due = findings_and_plan(cfg, parsed(cfg, srtgen_body("past_due", usage=950)))

    assert states["plan_status"] == (WARNING, "Pro Plan is past_due")
    assert states["storage"] == (WARNING, "storage 950 of 1000 bytes used (95%)")
    assert states[BALANCE][0] == OK
    assert due == [
        ("plan_status", Decision(Reason.FIRST, True, WARNING)),
        ("storage", Decision(Reason.FIRST, True, WARNING)),
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
    states, _ = findings_and_plan(cfg, parsed(cfg, srtgen_body(usage=usage)))
    assert states["storage"][0] == expected


def test_signals_resolve_independently() -> None:
    cfg = provider("srtgen", warning="400")
    checks, _ = advance({}, parsed(cfg, srtgen_body("past_due", usage=950)), None, cfg, T0)
    later = T0 + timedelta(minutes=5)
    _, due = findings_and_plan(
        cfg, parsed(cfg, srtgen_body("active", usage=950), later), previous=_sent(checks)
    )
    assert due == [("plan_status", Decision(Reason.RESOLVED, True, OK))]


def _sent(checks: dict[str, CheckState]) -> dict[str, CheckState]:
    """Every bad check as already delivered to OPS."""
    return {
        check: record_sent(state, OPS.key, state.severity, state.since)
        if state.severity > OK
        else state
        for check, state in checks.items()
    }


def test_a_signal_no_longer_reported_is_resolved() -> None:
    cfg = provider("youcom")
    flagged = Reading(
        Decimal(50),
        "USD",
        T0,
        signals=(Signal("unpaid_bill", "unpaid bill outstanding", flagged=True),),
    )
    checks, _ = advance({}, flagged, None, cfg, T0)
    assert checks["unpaid_bill"].severity == WARNING

    later = T0 + timedelta(minutes=5)
    states, due = findings_and_plan(cfg, Reading(Decimal(50), "USD", later), _sent(checks))

    assert states["unpaid_bill"] == (OK, "no longer reported by the provider")
    assert due == [("unpaid_bill", Decision(Reason.RESOLVED, True, OK))]


def test_a_failed_first_poll_creates_only_the_fetch_check() -> None:
    cfg = provider("youcom", failure_threshold=1)
    checks, findings = advance({}, None, UnavailableError("timed out after 10s"), cfg, T0)
    assert findings == {}
    assert list(checks) == [FETCH]
    assert (checks[FETCH].severity, checks[FETCH].detail) == (
        WARNING,
        "cannot check: timed out after 10s",
    )


def test_policy_of_takes_the_providers_settings() -> None:
    cfg = provider("youcom", repeat_interval="90m", notify_resolved=False, failure_threshold=5)
    assert policy_of(cfg) == AlertPolicy(timedelta(minutes=90), False, 5)


def test_a_notifier_added_by_a_reload_hears_of_alerts_in_progress_and_no_one_else_again() -> None:
    ops = Destination("ops:aaaaaaaaaaaa", "ops", 0, Severity.WARNING)
    added = Destination("pager:bbbbbbbbbbbb", "pager", 0, Severity.WARNING)
    told = record_sent(
        CheckState(Severity.WARNING, "below warning threshold $20.00", T0),
        ops.key,
        Severity.WARNING,
        T0,
    )
    policy = AlertPolicy(timedelta(hours=4), notify_resolved=True, failure_threshold=3)
    due = plan({BALANCE: told}, [ops, added], policy, T0 + timedelta(minutes=5), polled_ok=True)
    assert [(p.destination.notifier, p.decision.reason) for p in due] == [("pager", Reason.FIRST)]
