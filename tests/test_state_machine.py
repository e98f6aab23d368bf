"""The alert state machine (SPEC §3) as plain code: every time is an explicit datetime.

`decide()` is tested as a table; the rest goes through the real `step` and `delivered`
(tests/support/core.py), the same calls the engine makes around its IO.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from support.core import ONCALL, OPS, at, poll, told

from alertd.config.model import ProviderConfig
from alertd.core.evaluate import BALANCE, FETCH
from alertd.core.model import Severity
from alertd.core.rules import AlertPolicy, Destination
from alertd.core.state import (
    CheckState,
    Decision,
    Reason,
    Sent,
    decide,
    observe_failure,
    observe_success,
    record_sent,
)
from alertd.core.step import ProviderState, abandoned
from alertd.errors import AuthError, ProviderError, ResponseError, UnavailableError

OK, WARNING, CRITICAL = Severity.OK, Severity.WARNING, Severity.CRITICAL
HOUR = timedelta(hours=1)

POLICY = AlertPolicy(repeat_interval=4 * HOUR, notify_resolved=True, failure_threshold=3)
SILENT_RESOLVE = AlertPolicy(repeat_interval=4 * HOUR, notify_resolved=False, failure_threshold=3)
NO_REMINDERS = AlertPolicy(repeat_interval=timedelta(0), notify_resolved=True, failure_threshold=3)

NOTHING = Decision(Reason.NONE, deliver=False)

UNAVAILABLE = UnavailableError("provider unavailable (HTTP 503)")
REJECTED = AuthError("credentials rejected (HTTP 401)")


def provider(**changes: Any) -> ProviderConfig:
    """A USD provider: warning below $20, critical below $5, reminders every 4h."""
    fields: dict[str, Any] = {
        "type": "youcom",
        "api_key": "k",
        "warning": "20",
        "critical": "5",
        "repeat_interval": "4h",
        "failure_threshold": 3,
    }
    return ProviderConfig(**(fields | changes))


# -- decide(): one destination, one check ---------------------------------------------------

DECIDE_TABLE = [
    # (current, last sent, destination floor, policy, now) -> decision
    pytest.param(
        WARNING, None, WARNING, POLICY, at(), Decision(Reason.FIRST, True, WARNING),
        id="ok->warning: first",
    ),
    pytest.param(
        CRITICAL, None, WARNING, POLICY, at(), Decision(Reason.FIRST, True, CRITICAL),
        id="ok->critical: first",
    ),
    pytest.param(
        CRITICAL, Sent(WARNING, at()), WARNING, POLICY, at(1),
        Decision(Reason.ESCALATED, True, CRITICAL),
        id="warning->critical: escalated at once",
    ),
    pytest.param(
        WARNING, Sent(CRITICAL, at()), WARNING, POLICY, at(1),
        Decision(Reason.IMPROVED, True, WARNING),
        id="critical->warning: improved",
    ),
    pytest.param(
        OK, Sent(WARNING, at()), WARNING, POLICY, at(1), Decision(Reason.RESOLVED, True, OK),
        id="warning->ok: resolved",
    ),
    pytest.param(
        OK, Sent(CRITICAL, at()), WARNING, POLICY, at(1), Decision(Reason.RESOLVED, True, OK),
        id="critical->ok: resolved",
    ),
    pytest.param(
        OK, Sent(WARNING, at()), WARNING, SILENT_RESOLVE, at(1),
        Decision(Reason.RESOLVED, False, OK),
        id="warning->ok with notify_resolved off: resolved, not delivered",
    ),
    pytest.param(
        WARNING, Sent(WARNING, at()), WARNING, POLICY, at(4),
        Decision(Reason.REMINDER, True, WARNING),
        id="warning lasting exactly repeat_interval: reminder",
    ),
    pytest.param(
        CRITICAL, Sent(CRITICAL, at()), WARNING, POLICY, at(4),
        Decision(Reason.REMINDER, True, CRITICAL),
        id="critical lasting exactly repeat_interval: reminder",
    ),
    pytest.param(
        WARNING, Sent(WARNING, at()), WARNING, POLICY, at(4, seconds=-1), NOTHING,
        id="1s before repeat_interval: nothing",
    ),
    pytest.param(
        WARNING, Sent(WARNING, at()), WARNING, POLICY, at(9),
        Decision(Reason.REMINDER, True, WARNING),
        id="long past repeat_interval: one reminder",
    ),
    pytest.param(
        WARNING, Sent(WARNING, at()), WARNING, NO_REMINDERS, at(24 * 30), NOTHING,
        id="repeat_interval 0: never reminded",
    ),
    pytest.param(
        WARNING, Sent(WARNING, at(1)), WARNING, POLICY, at(1), NOTHING,
        id="just sent: no duplicate",
    ),
    pytest.param(
        OK, None, WARNING, POLICY, at(), NOTHING,
        id="ok and never alerted: nothing",
    ),
    # a destination with min_severity: critical
    pytest.param(
        WARNING, None, CRITICAL, POLICY, at(), NOTHING,
        id="critical floor: warning is not sent",
    ),
    pytest.param(
        WARNING, None, CRITICAL, POLICY, at(100), NOTHING,
        id="critical floor: lasting warning is not reminded",
    ),
    pytest.param(
        CRITICAL, None, CRITICAL, POLICY, at(), Decision(Reason.FIRST, True, CRITICAL),
        id="critical floor: critical is first",
    ),
    pytest.param(
        CRITICAL, Sent(CRITICAL, at()), CRITICAL, POLICY, at(4),
        Decision(Reason.REMINDER, True, CRITICAL),
        id="critical floor: critical reminded",
    ),
    pytest.param(
        WARNING, Sent(CRITICAL, at()), CRITICAL, POLICY, at(1), Decision(Reason.RESOLVED, True, OK),
        id="critical floor: critical->warning is its resolution",
    ),
    pytest.param(
        WARNING, Sent(CRITICAL, at()), CRITICAL, SILENT_RESOLVE, at(1),
        Decision(Reason.RESOLVED, False, OK),
        id="critical floor: resolution silent with notify_resolved off",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("current", "sent", "floor", "policy", "now", "expected"), DECIDE_TABLE)
def test_decide(
    current: Severity,
    sent: Sent | None,
    floor: Severity,
    policy: AlertPolicy,
    now: datetime,
    expected: Decision,
) -> None:
    assert decide(current, sent, floor, policy, now) == expected


# -- fetch failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "errors", "severities"),
    [
        pytest.param(3, [UNAVAILABLE] * 4, [OK, OK, WARNING, WARNING], id="5xx: warning at 3rd"),
        pytest.param(1, [UNAVAILABLE], [WARNING], id="threshold 1: warning at once"),
        pytest.param(3, [REJECTED], [WARNING], id="401: warning at once"),
        pytest.param(3, [UNAVAILABLE, REJECTED], [OK, WARNING], id="401 after a 5xx: at once"),
        pytest.param(
            2,
            [ResponseError("non-JSON response body, not JSON"), UNAVAILABLE],
            [OK, WARNING],
            id="any failure counts",
        ),
    ],
)
def test_observe_failure_counts_to_the_threshold(
    threshold: int, errors: Sequence[ProviderError], severities: Sequence[Severity]
) -> None:
    policy = AlertPolicy(4 * HOUR, True, threshold)
    state: CheckState | None = None
    seen = []
    for count, error in enumerate(errors):
        auth = isinstance(error, AuthError)
        state = observe_failure(state, error.reason, auth, policy, at(count))
        assert state.failures == count + 1
        assert state.detail == f"cannot check: {error.reason}"
        seen.append(state.severity)
    assert seen == list(severities)


def test_fetch_since_is_when_it_became_a_warning() -> None:
    state = None
    for hour in range(5):
        state = observe_failure(state, UNAVAILABLE.reason, False, POLICY, at(hour))
    assert state is not None
    assert (state.severity, state.failures, state.since) == (WARNING, 5, at(2))


def test_observe_success_clears_fetch_and_failures() -> None:
    state = None
    for hour in range(3):
        state = observe_failure(state, UNAVAILABLE.reason, False, POLICY, at(hour))
    cleared = observe_success(state, at(3))
    assert (cleared.severity, cleared.failures, cleared.since) == (OK, 0, at(3))
    assert cleared.detail == "checked successfully"


def test_failed_poll_keeps_balance_state_and_tells_only_of_fetch() -> None:
    cfg = provider(repeat_interval="1h")
    state = poll(ProviderState(), "4.00", cfg, at()).state
    balance_before = state.checks[BALANCE]
    assert balance_before.sent[OPS.key] == Sent(CRITICAL, at())

    result = None
    for hour in (1, 2, 3):  # failures at +1h, +2h, +3h; threshold 3
        result = poll(state, UNAVAILABLE, cfg, at(hour))
        state = result.state
        assert state.checks[BALANCE] == balance_before  # not resolved, not touched by silence
        assert state.reading is not None
        assert state.reading.checked_at == at()
        if hour < 3:
            assert result.notifications == ()

    assert result is not None
    assert told(result.notifications) == [("ops", FETCH, "first", WARNING)]
    # The balance reminder is due by the clock, yet a failed poll does not send it.
    policy = AlertPolicy(timedelta(hours=1), True, 3)
    assert decide(CRITICAL, balance_before.sent[OPS.key], OPS.floor, policy, at(3)) == (
        Decision(Reason.REMINDER, True, CRITICAL)
    )


def test_success_after_failures_resolves_fetch_and_resets_failures() -> None:
    cfg = provider()
    state = poll(ProviderState(), "50", cfg, at()).state
    for hour in (1, 2, 3):
        state = poll(state, UNAVAILABLE, cfg, at(hour)).state
    assert state.checks[FETCH].sent[OPS.key] == Sent(WARNING, at(3))

    result = poll(state, "50", cfg, at(4))

    fetch = result.state.checks[FETCH]
    assert (fetch.severity, fetch.failures) == (OK, 0)
    assert told(result.notifications) == [("ops", FETCH, "resolved", OK)]


def test_failures_below_threshold_then_success_start_counting_again() -> None:
    cfg = provider()
    state = ProviderState()
    for hour, outcome in enumerate(["fail", "fail", "50", "fail", "fail"]):
        result = poll(state, UNAVAILABLE if outcome == "fail" else outcome, cfg, at(hour))
        state = result.state
        assert result.notifications == ()
    assert (state.checks[FETCH].severity, state.checks[FETCH].failures) == (OK, 2)


# -- hysteresis, since, duplicates ------------------------------------------------------------


@pytest.mark.parametrize(
    ("margin", "series"),
    [
        pytest.param(
            "5%",  # of the level: $1 above $20, $0.25 above $5
            [
                ("19.00", WARNING),
                ("20.00", WARNING),  # at the line: held
                ("20.99", WARNING),  # just above: held
                ("19.50", WARNING),
                ("21.00", OK),  # threshold + margin: cleared
                ("20.50", OK),  # above the threshold: stays clear
                ("19.99", WARNING),
            ],
            id="warning 20, margin 5%",
        ),
        pytest.param(
            "5%",
            [
                ("4.00", CRITICAL),
                ("5.10", CRITICAL),  # held below $5.25
                ("5.25", WARNING),
                ("20.50", WARNING),  # warning held too
                ("21.00", OK),
            ],
            id="critical 5, margin 5%",
        ),
        pytest.param(
            "2",  # a plain number is in the provider's unit
            [("19.00", WARNING), ("21.99", WARNING), ("22.00", OK)],
            id="margin $2",
        ),
        pytest.param(
            "0",
            [("19.00", WARNING), ("20.00", OK), ("19.99", WARNING), ("20.01", OK)],
            id="no margin: flaps at the line",
        ),
    ],
)
def test_recovery_margin_holds_a_level(margin: str, series: list[tuple[str, Severity]]) -> None:
    cfg = provider(recovery_margin=margin)
    state = ProviderState()
    seen = []
    for hour, (amount, _) in enumerate(series):
        state = poll(state, amount, cfg, at(hour)).state
        seen.append((amount, state.checks[BALANCE].severity))
    assert seen == [(amount, severity) for amount, severity in series]


def test_since_moves_only_when_severity_changes() -> None:
    cfg = provider()
    state = ProviderState()
    seen = []
    for hour, amount in enumerate(["50", "40", "19", "18", "17", "4", "3", "30", "31"]):
        state = poll(state, amount, cfg, at(hour)).state
        seen.append((state.checks[BALANCE].severity, state.checks[BALANCE].since))
    assert seen == [
        (OK, at(0)),
        (OK, at(0)),
        (WARNING, at(2)),
        (WARNING, at(2)),
        (WARNING, at(2)),
        (CRITICAL, at(5)),
        (CRITICAL, at(5)),
        (OK, at(7)),
        (OK, at(7)),
    ]


def test_detail_follows_the_latest_reading() -> None:
    cfg = provider()
    state = poll(ProviderState(), "19", cfg, at()).state
    state = poll(state, "18", cfg, at(1)).state
    assert state.checks[BALANCE].detail == "below warning threshold $20.00"


def test_a_delivered_alert_is_not_sent_again() -> None:
    cfg = provider()
    first = poll(ProviderState(), "19", cfg, at())
    assert told(first.notifications) == [("ops", BALANCE, "first", WARNING)]
    assert first.state.checks[BALANCE].sent[OPS.key] == Sent(WARNING, at())

    assert poll(first.state, "18", cfg, at(1)).notifications == ()


def test_undelivered_alert_is_decided_again() -> None:
    """Delivery gave up (nothing recorded): the next poll sends the same news again."""
    cfg = provider()
    first = poll(ProviderState(), "19", cfg, at(), deliver=False)
    [notification] = first.notifications
    gave_up = abandoned(first.state, notification)
    again = poll(gave_up, "18", cfg, at(0.1))
    assert told(again.notifications) == [("ops", BALANCE, "first", WARNING)]


def test_record_sent_ok_forgets_the_destination() -> None:
    state = CheckState(WARNING, "below", at(), sent={OPS.key: Sent(WARNING, at())})
    cleared = record_sent(state, OPS.key, OK, at(1))
    assert OPS.key not in cleared.sent
    assert state.sent[OPS.key] == Sent(WARNING, at())  # the old state is unchanged


# -- whole sequences --------------------------------------------------------------------------

Outcome = str | ProviderError  # an amount in USD, or the error a poll ended with
Emitted = tuple[float, str, str, Reason, Severity]  # hour, destination, check, reason, severity


def simulate(
    cfg: ProviderConfig, polls: Sequence[Outcome], routes: Sequence[Destination]
) -> tuple[list[Emitted], dict[str, CheckState]]:
    """Hourly polls through the real step; every notification is delivered at once."""
    state = ProviderState()
    emitted: list[Emitted] = []
    for hour, outcome in enumerate(polls):
        result = poll(state, outcome, cfg, at(hour), routes)
        state = result.state
        emitted.extend(
            (hour, n.destination.notifier, n.check, n.reason, n.severity)
            for n in result.notifications
        )
    return emitted, dict(state.checks)


def test_a_drain_outage_and_top_up_notify_exactly_per_spec() -> None:
    polls: list[Outcome] = [
        "30",  # 0  ok
        "19",  # 1  warning: first
        "18",  # 2
        "17",  # 3
        "16",  # 4
        "15",  # 5  4h since the first: reminder
        "4",  # 6  critical: escalated (ops), first (oncall)
        UNAVAILABLE,  # 7
        UNAVAILABLE,  # 8
        UNAVAILABLE,  # 9  3rd failure: cannot check; no balance reminder while blind
        UNAVAILABLE,  # 10 balance reminder due by the clock, but the poll failed
        "3.50",  # 11 fetch resolved; critical 5h old: reminder
        "8",  # 12 improved to warning (ops); resolved for oncall
        "9",  # 13
        "25",  # 14 resolved
        "25",  # 15
        "19",  # 16 a new dip is a first alert again
    ]
    emitted, checks = simulate(provider(), polls, [OPS, ONCALL])
    assert emitted == [
        (1, "ops", BALANCE, Reason.FIRST, WARNING),
        (5, "ops", BALANCE, Reason.REMINDER, WARNING),
        (6, "ops", BALANCE, Reason.ESCALATED, CRITICAL),
        (6, "oncall", BALANCE, Reason.FIRST, CRITICAL),
        (9, "ops", FETCH, Reason.FIRST, WARNING),
        (11, "ops", BALANCE, Reason.REMINDER, CRITICAL),
        (11, "oncall", BALANCE, Reason.REMINDER, CRITICAL),
        (11, "ops", FETCH, Reason.RESOLVED, OK),
        (12, "ops", BALANCE, Reason.IMPROVED, WARNING),
        (12, "oncall", BALANCE, Reason.RESOLVED, OK),
        (14, "ops", BALANCE, Reason.RESOLVED, OK),
        (16, "ops", BALANCE, Reason.FIRST, WARNING),
    ]
    assert checks[BALANCE].sent == {OPS.key: Sent(WARNING, at(16))}


def test_with_notify_resolved_off_the_recovery_is_silent_but_remembered() -> None:
    polls: list[Outcome] = ["19", "4", "25", "25", "18"]
    emitted, checks = simulate(provider(notify_resolved=False), polls, [OPS, ONCALL])
    assert emitted == [
        (0, "ops", BALANCE, Reason.FIRST, WARNING),
        (1, "ops", BALANCE, Reason.ESCALATED, CRITICAL),
        (1, "oncall", BALANCE, Reason.FIRST, CRITICAL),
        (4, "ops", BALANCE, Reason.FIRST, WARNING),  # the silent resolution was recorded
    ]
    assert checks[BALANCE].sent == {OPS.key: Sent(WARNING, at(4))}


def test_credentials_rejected_alerts_at_once_and_only_once() -> None:
    polls: list[Outcome] = ["50", REJECTED, REJECTED, REJECTED, REJECTED, REJECTED, "50"]
    emitted, _ = simulate(provider(), polls, [OPS, ONCALL])
    assert emitted == [
        (1, "ops", FETCH, Reason.FIRST, WARNING),
        (5, "ops", FETCH, Reason.REMINDER, WARNING),
        (6, "ops", FETCH, Reason.RESOLVED, OK),
    ]


def test_hovering_balance_with_margin_does_not_flap() -> None:
    polls: list[Outcome] = ["19.90", "20.10", "19.95", "20.40", "19.80", "20.90", "21.50"]
    emitted, _ = simulate(provider(recovery_margin="5%"), polls, [OPS])
    assert emitted == [
        (0, "ops", BALANCE, Reason.FIRST, WARNING),
        (4, "ops", BALANCE, Reason.REMINDER, WARNING),
        (6, "ops", BALANCE, Reason.RESOLVED, OK),
    ]
    flapping, _ = simulate(provider(), polls, [OPS])
    assert [reason for _, _, _, reason, _ in flapping] == [
        Reason.FIRST,
        Reason.RESOLVED,
        Reason.FIRST,
        Reason.RESOLVED,
        Reason.FIRST,
        Reason.RESOLVED,
    ]
