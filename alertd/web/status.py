"""PURE: what the status page and `/api/v1/status` show (SPEC §8), built from each watched
provider's state as plain values, worst first, with totals by severity.

A provider not polled yet is `pending`: neither good nor bad news, listed after the bad
ones. Text that came from outside (a provider's error, a plan name) passes through
`printable` here, and is escaped again by the template: a value is shown, never run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from alertd.core.evaluate import BALANCE, FETCH
from alertd.core.forecast import Forecast
from alertd.core.format import format_amount, format_money
from alertd.core.model import Reading, Severity
from alertd.core.rules import Rules
from alertd.core.step import ProviderState
from alertd.text import printable
from alertd.web import wording
from alertd.web.sparkline import Sparkline

Redact = Callable[[str], str]
PENDING = "pending"
SEVERITIES = ("critical", "warning", PENDING, "ok")  # worst first: the order of the page


class Watched(Protocol):
    """What the page reads of a watched provider (`alertd.engine.Watch`)."""

    @property
    def name(self) -> str: ...
    @property
    def rules(self) -> Rules: ...
    @property
    def state(self) -> ProviderState: ...


@dataclass(frozen=True, slots=True)
class CheckView:
    check: str
    severity: str
    detail: str
    since: datetime


@dataclass(frozen=True, slots=True)
class ForecastView:
    outlook: str
    text: str  # "runs out in ~3.2 days (around 2026-11-25 14:00 UTC)"
    rate: Decimal | None  # per day, in the balance's unit
    burn: str | None  # "$4.10/day"
    runway: timedelta | None
    exhausted_at: datetime | None
    resets_at: datetime | None
    topups: int

    @classmethod
    def of(cls, forecast: Forecast) -> ForecastView:
        return cls(
            outlook=forecast.outlook.value,
            text=wording.runway(forecast),
            rate=forecast.rate,
            burn=wording.burn(forecast),
            runway=forecast.runway if forecast.has_runway else None,
            exhausted_at=forecast.exhausted_at,
            resets_at=forecast.resets_at,
            topups=forecast.topups,
        )


@dataclass(frozen=True, slots=True)
class ProviderView:
    name: str
    type: str
    severity: str  # critical, warning, pending or ok
    reason: str  # the worst check's detail: why it has this severity
    checks: tuple[CheckView, ...] = ()
    amount: Decimal | None = None
    unit: str | None = None
    balance: str | None = None  # "$17.00 (1,700 renders)"
    breakdown: tuple[tuple[str, str], ...] = ()  # ("paid", "$10.00"), ...
    capacity: Decimal | None = None
    share: Decimal | None = None  # amount / capacity
    checked_at: datetime | None = None  # the last reading
    levels: Mapping[Severity, Decimal] = field(default_factory=dict)  # in the balance's unit
    last_poll_at: datetime | None = None
    error: str | None = None  # why the last poll failed, if it did
    forecast: ForecastView | None = None
    spark: Sparkline | None = None

    @property
    def share_text(self) -> str | None:
        if self.share is None or self.capacity is None or self.unit is None:
            return None
        return f"{self.share * 100:.0f}% of {format_amount(self.capacity, self.unit)}"

    @property
    def meter_levels(self) -> tuple[tuple[str, Decimal], ...]:
        """The thresholds as shares of capacity: a `<meter>` turns amber below `high` (the
        warning level) and red below `low` (the critical one)."""
        if not self.capacity:
            return ()
        names = {Severity.CRITICAL: "low", Severity.WARNING: "high"}
        return tuple(
            (names[s], min(max(amount / self.capacity, Decimal(0)), Decimal(1)))
            for s, amount in sorted(self.levels.items())
            if s in names
        )

    @property
    def runway_order(self) -> float:
        """Sooner exhaustion first among providers of one severity."""
        if self.forecast is None or self.forecast.runway is None:
            return float("inf")
        return self.forecast.runway.total_seconds()


@dataclass(frozen=True, slots=True)
class StatusView:
    now: datetime
    providers: tuple[ProviderView, ...]

    @property
    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for provider in self.providers:
            counts[provider.severity] += 1
        return counts

    @property
    def worst(self) -> str:
        return next((s for s in SEVERITIES if self.totals[s]), "ok")


def _keep(text: str) -> str:
    return text


def provider_view(
    watch: Watched, spark: Sparkline | None = None, redact: Redact = _keep
) -> ProviderView:
    """`redact` masks known secrets (the daemon's log redactor) in text from outside: a
    provider that echoes its API key in an error message must not put it on the page."""

    def shown(text: str, limit: int = 200) -> str:
        return redact(printable(text, limit))

    state = watch.state
    checks = tuple(
        sorted(
            (
                CheckView(check, s.severity.label, shown(s.detail), s.since)
                for check, s in state.checks.items()
            ),
            key=lambda c: (-Severity.parse(c.severity), c.check != BALANCE, c.check),
        )
    )
    last = state.last_poll
    error = shown(last.failure.reason) if last is not None and last.failure else None
    return ProviderView(
        name=watch.name,
        type=watch.rules.provider_type,
        severity=PENDING if last is None else state.worst.label,
        reason="waiting for the first poll" if last is None else _reason(checks, error),
        checks=checks,
        last_poll_at=last.checked_at if last else None,
        error=error,
        forecast=ForecastView.of(state.forecast) if state.forecast else None,
        spark=spark,
        **_balance_fields(state.reading, watch.rules, shown),
    )


def _balance_fields(
    reading: Reading | None, rules: Rules, shown: Callable[[str, int], str]
) -> dict[str, Any]:
    """The last reading's part of a card: nothing before the first one."""
    if reading is None:
        return {}
    capacity = reading.capacity or None  # a capacity of 0 has no share
    return {
        "amount": reading.amount,
        "unit": shown(reading.unit, 40),
        "balance": shown(format_money(reading.money()), 80),
        "breakdown": tuple(
            (shown(part, 40), shown(format_money(reading.money(amount)), 80))
            for part, amount in reading.breakdown.items()
        ),
        "capacity": capacity,
        "share": reading.amount / capacity if capacity else None,
        "checked_at": reading.checked_at,
        "levels": levels_in_unit(reading, rules),
    }


def levels_in_unit(reading: Reading, rules: Rules) -> dict[Severity, Decimal]:
    """The balance thresholds in the reading's unit (a percentage needs its capacity)."""
    return {
        severity: level
        for severity, threshold in (
            (Severity.WARNING, rules.levels.warning),
            (Severity.CRITICAL, rules.levels.critical),
        )
        if threshold is not None and (level := threshold.resolve(reading.capacity)) is not None
    }


def _reason(checks: tuple[CheckView, ...], error: str | None) -> str:
    """The worst check's detail; a failed poll says why, even before it counts as an alert."""
    worst = checks[0] if checks else None
    if worst is None:
        return error or "no checks yet"
    if worst.severity == "ok" and error is not None:
        return f"last poll failed: {error}"
    if worst.check == FETCH or worst.severity != "ok":
        return worst.detail
    balance = next((c for c in checks if c.check == BALANCE), worst)
    return balance.detail


def status_view(
    watches: Iterable[Watched],
    now: datetime,
    sparks: Mapping[str, Sparkline] | None = None,
    redact: Redact = _keep,
) -> StatusView:
    """Every provider, worst first; within a severity the one that runs out first, then by
    name."""
    sparks = sparks or {}
    views = [provider_view(w, sparks.get(w.name), redact) for w in watches]
    views.sort(key=lambda v: (SEVERITIES.index(v.severity), v.runway_order, v.name))
    return StatusView(now, tuple(views))
