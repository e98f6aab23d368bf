"""PURE: the alert state machine (SPEC §3). No IO, no clock: `now` is an argument.

Two things are kept per (provider, check), as in Alertmanager's dedup stage:
  * the condition: current severity (hysteresis already applied by `evaluate`), since when,
    and for the `fetch` check the count of consecutive failures;
  * the notification log: per destination, the severity last *delivered* and when.
`decide()` compares the two and returns a Reason; the log changes only through
`record_sent()`, which `step.delivered` calls after a delivery went out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from alertd.core.evaluate import FETCH, Finding
from alertd.core.model import Severity
from alertd.core.rules import AlertPolicy


class Reason(enum.StrEnum):
    """Why a notification goes out; shown in logs and in the message."""

    FIRST = "first"
    ESCALATED = "escalated"
    IMPROVED = "improved"
    REMINDER = "reminder"
    RESOLVED = "resolved"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Sent:
    """What a destination was last told about a check, and when."""

    severity: Severity
    at: datetime


@dataclass(frozen=True, slots=True)
class CheckState:
    severity: Severity
    detail: str
    since: datetime
    failures: int = 0
    sent: Mapping[str, Sent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sent", MappingProxyType(dict(self.sent)))


@dataclass(frozen=True, slots=True)
class Decision:
    """`deliver` is False for a resolution nobody wants to hear about: record it silently.
    `severity` is what the destination sees, and what the log records once delivered."""

    reason: Reason
    deliver: bool
    severity: Severity = Severity.OK


NOTHING = Decision(Reason.NONE, deliver=False)


def decide(
    current: Severity,
    sent: Sent | None,
    floor: Severity,
    policy: AlertPolicy,
    now: datetime,
) -> Decision:
    """What one destination should be told now about one check.

    A destination with `min_severity` sees a severity below its floor as `ok`: it hears of
    the alerts at or above its floor and of their resolution, nothing else.
    """
    seen = current if current >= floor else Severity.OK
    last = sent.severity if sent is not None else Severity.OK
    if seen > Severity.OK and last == Severity.OK:
        return Decision(Reason.FIRST, True, seen)
    if seen > last:
        return Decision(Reason.ESCALATED, True, seen)
    if Severity.OK < seen < last:
        return Decision(Reason.IMPROVED, True, seen)
    if seen == Severity.OK and last > Severity.OK:
        return Decision(Reason.RESOLVED, policy.notify_resolved, seen)
    if (
        seen > Severity.OK
        and sent is not None
        and policy.repeat_interval > timedelta(0)
        and now - sent.at >= policy.repeat_interval
    ):
        return Decision(Reason.REMINDER, True, seen)
    return NOTHING


def observe(previous: CheckState | None, finding: Finding, now: datetime) -> CheckState:
    """The check's new condition; `since` moves only when the severity changes."""
    if previous is None:
        return CheckState(finding.severity, finding.detail, now)
    since = previous.since if previous.severity == finding.severity else now
    return replace(previous, severity=finding.severity, detail=finding.detail, since=since)


def observe_failure(
    previous: CheckState | None, reason: str, auth: bool, policy: AlertPolicy, now: datetime
) -> CheckState:
    """One more failed poll: `warning` once the threshold is reached, at once when the
    credentials were rejected (`auth`: retrying will not fix that)."""
    failures = (previous.failures if previous else 0) + 1
    failing = auth or failures >= policy.failure_threshold
    severity = Severity.WARNING if failing else Severity.OK
    detail = f"cannot check: {reason}"
    base = previous or CheckState(severity, detail, now)
    since = base.since if base.severity == severity and previous else now
    return replace(base, severity=severity, detail=detail, since=since, failures=failures)


def observe_success(previous: CheckState | None, now: datetime) -> CheckState:
    """A successful poll clears the fetch check and its failure count."""
    finding = Finding(FETCH, Severity.OK, "checked successfully")
    return replace(observe(previous, finding, now), failures=0)


def record_sent(
    state: CheckState, destination: str, severity: Severity, now: datetime
) -> CheckState:
    """The log entry after a delivery went out (or a silent resolution); OK entries are dropped."""
    sent = dict(state.sent)
    if severity == Severity.OK:
        sent.pop(destination, None)
    else:
        sent[destination] = Sent(severity, now)
    return replace(state, sent=sent)
