"""Values the store tests write and expect back: times on whole milliseconds (what the
stores keep), money with the digits a provider sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alertd.core.model import Severity
from alertd.core.series import Event, EventKind, Sample
from alertd.core.state import CheckState, Reason, Sent
from alertd.store.base import LogEntry

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OPS = "ops:0123456789ab"
ONCALL = "oncall:ba9876543210"


def at(minutes: float = 0, hours: float = 0, days: float = 0) -> datetime:
    """T0 plus a span, cut to whole milliseconds."""
    moment = T0 + timedelta(minutes=minutes, hours=hours, days=days)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def checks(detail: str = "balance $4.10 below critical threshold $5.00") -> dict[str, CheckState]:
    """A provider's checks as the engine keeps them: a critical balance told to two
    destinations at different severities, a fetch check with a failure count."""
    return {
        "balance": CheckState(
            Severity.CRITICAL,
            detail,
            at(minutes=5),
            sent={
                OPS: Sent(Severity.WARNING, at(hours=-2)),
                ONCALL: Sent(Severity.CRITICAL, at(minutes=5, hours=0.0001)),
            },
        ),
        "fetch": CheckState(
            Severity.WARNING,
            "cannot check: HTTP 503 — «unavailable»",
            at(),
            7,
            sent={OPS: Sent(Severity.WARNING, at(minutes=1))},
        ),
        "unpaid_bill": CheckState(Severity.OK, "no unpaid bill", at(days=-3)),
    }


def sample(minutes: float, amount: str, unit: str = "USD", capacity: str | None = None) -> Sample:
    return Sample(at(minutes), Decimal(amount), unit, Decimal(capacity) if capacity else None)


def topup(minutes: float, amount: str, balance: str) -> Event:
    return Event(at(minutes), EventKind.TOPUP, Decimal(amount), Decimal(balance))


def logged(provider: str, minutes: float, check: str = "balance") -> LogEntry:
    return LogEntry(
        provider,
        check,
        OPS,
        Reason.FIRST,
        Severity.WARNING,
        at(minutes),
        f"[WARNING] {provider}: balance $15.00 below warning threshold",
    )
