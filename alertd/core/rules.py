"""PURE: what the core needs to know of the config, as plain frozen values.

The shell builds one `Rules` per provider from the validated config (`alertd.config.rules`);
the core never sees a pydantic model, so it can be read and tested without the config layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from alertd.core.model import Severity


@dataclass(frozen=True, slots=True)
class Threshold:
    """A level in the provider's unit, or a percentage of the capacity it reports."""

    value: Decimal
    percent: bool = False

    def resolve(self, capacity: Decimal | None) -> Decimal | None:
        """The level in the provider's unit; None when a percentage has no capacity to apply to."""
        if not self.percent:
            return self.value
        if capacity is None:
            return None
        return capacity * self.value / 100

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


@dataclass(frozen=True, slots=True)
class Levels:
    """The levels a reading is measured by (SPEC §2-3)."""

    warning: Threshold | None = None
    critical: Threshold | None = None
    recovery_margin: Threshold = Threshold(Decimal(0))
    storage_warning: Decimal = Decimal("0.9")


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """When a lasting condition is reminded, a resolution told, a failing fetch alerted."""

    repeat_interval: timedelta
    notify_resolved: bool
    failure_threshold: int


@dataclass(frozen=True, slots=True)
class Destination:
    """One Apprise URL of one notifier. `key` is stable across reloads and reorderings."""

    key: str
    notifier: str
    url_index: int
    floor: Severity


@dataclass(frozen=True, slots=True)
class Forecasting:
    """The burn rate's window and the runway levels (SPEC §6); unset levels: no such check."""

    burn_window: timedelta = timedelta(days=7)
    runway_warning: timedelta | None = None
    runway_critical: timedelta | None = None
    spend_spike: Decimal | None = None  # warn when the recent rate is this many times the window's

    @property
    def runway_levels(self) -> list[tuple[Severity, timedelta]]:
        """(severity, level), worst first, the unset ones left out."""
        levels = [
            (Severity.CRITICAL, self.runway_critical),
            (Severity.WARNING, self.runway_warning),
        ]
        return [(severity, level) for severity, level in levels if level is not None]


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything `step` needs to know about one provider."""

    provider_type: str
    levels: Levels
    alerting: AlertPolicy
    routes: tuple[Destination, ...]
    max_deferral: timedelta
    forecasting: Forecasting = field(default_factory=Forecasting)
