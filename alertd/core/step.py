"""PURE: one poll of one provider in, its new state and the notifications to send out.

    step(state, poll, rules, now) -> Step(state, notifications, silenced)

This is the whole decision of alertd, in the spirit of Alertmanager's dedup stage: the shell
fetches, calls `step`, hands each `Notification` to delivery, and calls `delivered` (or
`abandoned`) when delivery ends. Everything a message says travels in the `Notification` as
structured data, so rendering never parses text back. No IO, no clock, no config models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from alertd.core.burn import Burn, project, track
from alertd.core.evaluate import BALANCE, FETCH, Finding, evaluate
from alertd.core.forecast import Forecast
from alertd.core.model import Poll, Reading, Severity
from alertd.core.rules import Destination, Rules
from alertd.core.runway import RUNWAY, SPEND_SPIKE, forecast_findings
from alertd.core.series import Event, Sample
from alertd.core.state import CheckState, Reason, decide, observe, observe_failure, observe_success
from alertd.core.state import record_sent as _record_sent

DeliveryKey = tuple[str, str]  # (check, destination key)
FORECAST_CHECKS = (RUNWAY, SPEND_SPIKE)


@dataclass(frozen=True, slots=True)
class ProviderState:
    """Everything alertd knows of one provider: its checks with their notification log, the
    last good reading and its findings, the last poll, a rate-limit deferral, and which
    notifications are being delivered right now (so the same news is not queued twice)."""

    checks: Mapping[str, CheckState] = field(default_factory=dict)
    reading: Reading | None = None
    findings: Mapping[str, Finding] = field(default_factory=dict)
    last_poll: Poll | None = None
    not_before: datetime | None = None
    pending: Mapping[DeliveryKey, Severity] = field(default_factory=dict)
    burn: Burn = field(default_factory=Burn)
    forecast: Forecast | None = None  # None until the burn tracker has a reading

    def __post_init__(self) -> None:
        for name in ("checks", "findings", "pending"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def worst(self) -> Severity:
        return max((s.severity for s in self.checks.values()), default=Severity.OK)

    def deferred(self, now: datetime) -> bool:
        """Whether the provider asked not to be polled before a time still ahead."""
        return self.not_before is not None and now < self.not_before


@dataclass(frozen=True, slots=True)
class Notification:
    """One message due to one destination, with everything the message says."""

    provider: str
    provider_type: str
    check: str
    destination: Destination
    reason: Reason
    severity: Severity  # what this destination is told (below its floor reads as ok)
    previous: Severity  # what it was last told
    current: Severity  # the check's own severity now (a floor can hide it)
    detail: str
    now: datetime
    reading: Reading | None = None
    threshold: Decimal | None = None
    held_by_margin: bool = False  # back above the threshold, not yet by recovery_margin
    failure: str | None = None  # the raw reason the provider cannot be checked
    failures: int = 0
    since: datetime | None = None
    forecast: Forecast | None = None

    @property
    def key(self) -> DeliveryKey:
        return (self.check, self.destination.key)


@dataclass(frozen=True, slots=True)
class Silenced:
    """A resolution recorded without a message (`notify_resolved: false`)."""

    check: str
    destination: Destination


@dataclass(frozen=True, slots=True)
class Step:
    state: ProviderState
    notifications: tuple[Notification, ...] = ()
    silenced: tuple[Silenced, ...] = ()
    events: tuple[Event, ...] = ()  # rises of the balance this poll recorded (store them)


def step(provider: str, state: ProviderState, poll: Poll, rules: Rules, now: datetime) -> Step:
    """Folds one poll into the provider's state and says who must be told what.

    A failed poll touches only `fetch`: the balance state stays as it was, neither resolved
    nor reminded by silence. A deferral asked for by the provider is capped by the rules.
    """
    burn, forecast = state.burn, state.forecast
    events: tuple[Event, ...] = ()
    if poll.reading is not None:
        burn, forecast, events = _forecast(state.burn, poll.reading, rules, now)
    checks, findings = _advance(state, poll, rules, forecast)
    state = replace(
        state,
        burn=burn,
        forecast=forecast,
        checks=checks,
        reading=poll.reading or state.reading,
        findings=findings if poll.reading else state.findings,
        last_poll=poll,
        not_before=_not_before(state, poll, rules),
    )
    notifications: list[Notification] = []
    silenced: list[Silenced] = []
    pending = dict(state.pending)
    for check, check_state in state.checks.items():
        if poll.reading is None and check != FETCH:
            continue
        for route in rules.routes:
            sent = check_state.sent.get(route.key)
            decision = decide(check_state.severity, sent, route.floor, rules.alerting, now)
            if decision.reason is Reason.NONE:
                continue
            if not decision.deliver:
                checks[check] = check_state = _record_sent(check_state, route.key, Severity.OK, now)
                silenced.append(Silenced(check, route))
                continue
            key = (check, route.key)
            if pending.get(key) == decision.severity:
                continue  # the same news is already being delivered (and retried)
            pending[key] = decision.severity
            notifications.append(
                _notification(provider, rules, state, check, route, decision.reason,
                              decision.severity, sent.severity if sent else Severity.OK, now)
            )  # fmt: skip
    state = replace(state, checks=checks, pending=pending)
    return Step(state, tuple(notifications), tuple(silenced), events)


def _forecast(
    burn: Burn, reading: Reading, rules: Rules, now: datetime
) -> tuple[Burn, Forecast | None, tuple[Event, ...]]:
    """The reading folded into the burn tracker, and the forecast it now gives."""
    window = rules.forecasting.burn_window
    burn, event = track(burn, Sample.of(reading), reading.resets_at, window)
    return burn, project(burn, window, now), (event,) if event else ()


def delivered(state: ProviderState, notification: Notification, at: datetime) -> ProviderState:
    """The notification went out: the log records it, the pending mark goes."""
    checks = dict(state.checks)
    current = checks.get(notification.check)
    if current is not None:
        checks[notification.check] = _record_sent(
            current, notification.destination.key, notification.severity, at
        )
    return replace(state, checks=checks, pending=_unmark(state, notification))


def abandoned(state: ProviderState, notification: Notification) -> ProviderState:
    """Delivery gave up (or was superseded): the log is untouched, so the next poll decides
    again and the alert is never silently dropped."""
    return replace(state, pending=_unmark(state, notification))


def _unmark(state: ProviderState, notification: Notification) -> dict[DeliveryKey, Severity]:
    pending = dict(state.pending)
    if pending.get(notification.key) == notification.severity:
        del pending[notification.key]
    return pending


def _advance(
    state: ProviderState, poll: Poll, rules: Rules, forecast: Forecast | None
) -> tuple[dict[str, CheckState], dict[str, Finding]]:
    previous = state.checks
    checks = dict(previous)
    if poll.reading is None:
        assert poll.failure is not None
        checks[FETCH] = observe_failure(
            previous.get(FETCH), poll.failure.reason, poll.failure.auth, rules.alerting,
            poll.checked_at,
        )  # fmt: skip
        return checks, {}
    severities = {check: s.severity for check, s in previous.items()}
    findings = evaluate(poll.reading, rules.levels, severities)
    if forecast is not None:
        margin = rules.levels.recovery_margin
        findings |= forecast_findings(forecast, rules.forecasting, margin, severities)
    for check in previous:
        if check not in findings and check != FETCH:
            gone = (
                "no longer configured"
                if check in FORECAST_CHECKS
                else "no longer reported by the provider"
            )
            findings[check] = Finding(check, Severity.OK, gone)
    for check, finding in findings.items():
        checks[check] = observe(previous.get(check), finding, poll.checked_at)
    checks[FETCH] = observe_success(previous.get(FETCH), poll.checked_at)
    return checks, findings


def _not_before(state: ProviderState, poll: Poll, rules: Rules) -> datetime | None:
    """Honour Retry-After, but never wait longer than `rules.max_deferral`: a provider
    cannot silence its own monitoring by asking for a day's pause."""
    if poll.failure is None or poll.failure.retry_after is None:
        return None if poll.reading is not None else state.not_before
    wait = min(timedelta(seconds=poll.failure.retry_after), rules.max_deferral)
    return poll.checked_at + wait


def _notification(
    provider: str,
    rules: Rules,
    state: ProviderState,
    check: str,
    route: Destination,
    reason: Reason,
    severity: Severity,
    previous: Severity,
    now: datetime,
) -> Notification:
    check_state = state.checks[check]
    finding = state.findings.get(check)
    failure = None
    if check == FETCH and state.last_poll is not None and state.last_poll.failure is not None:
        failure = state.last_poll.failure.reason
    return Notification(
        provider=provider,
        provider_type=rules.provider_type,
        check=check,
        destination=route,
        reason=reason,
        severity=severity,
        previous=previous,
        current=check_state.severity,
        detail=check_state.detail,
        now=now,
        reading=state.reading,
        threshold=finding.threshold if finding is not None and check == BALANCE else None,
        held_by_margin=finding.held if finding is not None else False,
        failure=failure,
        failures=check_state.failures,
        since=check_state.since,
        forecast=state.forecast,
    )
