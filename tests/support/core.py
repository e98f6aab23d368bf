"""Driving the real core (`alertd.core.step`) in tests: polls in, notifications out.

Every test of alert behaviour goes through `step` and `delivered`, the same two calls the
engine makes, so a test cannot pass while the engine's glue drifts from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alertd.config.model import ProviderConfig
from alertd.config.rules import alert_policy_of, forecasting_of, levels_of
from alertd.core.model import Failure, Poll, Reading, Severity
from alertd.core.rules import Destination, Rules
from alertd.core.step import Notification, ProviderState, Step, delivered, step
from alertd.errors import ProviderError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OPS = Destination("ops:aaaaaaaaaaaa", "ops", 0, Severity.WARNING)
ONCALL = Destination("oncall:bbbbbbbbbbbb", "oncall", 0, Severity.CRITICAL)

Outcome = Reading | ProviderError | Failure | str  # a str is an amount in USD


def at(hours: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, seconds=seconds)


def rules_for(cfg: ProviderConfig, routes: Sequence[Destination] = (OPS,)) -> Rules:
    """The provider's rules as the engine builds them, with the given destinations."""
    return Rules(
        cfg.type,
        levels_of(cfg),
        alert_policy_of(cfg),
        tuple(routes),
        cfg.interval * cfg.failure_threshold,
        forecasting_of(cfg),
    )


def poll_of(outcome: Outcome, when: datetime) -> Poll:
    if isinstance(outcome, str):
        return Poll(when, reading=Reading(Decimal(outcome), "USD", when))
    if isinstance(outcome, Reading):
        return Poll(when, reading=outcome)
    failure = outcome.failure() if isinstance(outcome, ProviderError) else outcome
    return Poll(when, failure=failure)


def poll(
    state: ProviderState,
    outcome: Outcome,
    cfg: ProviderConfig,
    when: datetime,
    routes: Sequence[Destination] = (OPS,),
    deliver: bool = True,
    name: str = "acct",
) -> Step:
    """One poll through the real `step`; with `deliver`, every notification then goes out
    (recorded through `delivered`, as the engine does). The returned Step's state is the
    state after the deliveries."""
    result = step(name, state, poll_of(outcome, when), rules_for(cfg, routes), when)
    after = result.state
    if deliver:
        for notification in result.notifications:
            after = delivered(after, notification, when)
    return Step(after, result.notifications, result.silenced, result.events)


def told(notifications: Sequence[Notification]) -> list[tuple[str, str, str, Severity]]:
    """(notifier, check, reason, severity) of each notification."""
    return [(n.destination.notifier, n.check, n.reason.value, n.severity) for n in notifications]
