"""Value types shared by the pure core and the IO shell: frozen, slotted, no behaviour to mock."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType


class Severity(enum.IntEnum):
    """Ordered so that `max()` picks the worst."""

    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.strip().upper()]


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Signal:
    """An extra condition a provider reports besides its balance (unpaid bill, storage, plan).

    `flagged` is a condition the provider itself declares bad (an unpaid bill); `ratio` is a
    fill level (storage used / limit) that the evaluator compares to a configured limit.
    """

    check: str
    detail: str
    flagged: bool = False
    ratio: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its unit, plus an optional second way of saying it (1 cent = 1 render)."""

    amount: Decimal
    unit: str
    alt_per_unit: Decimal | None = None
    alt_unit: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """One successful poll, normalized: what every provider adapter returns."""

    amount: Decimal
    unit: str
    checked_at: datetime
    capacity: Decimal | None = None
    breakdown: Mapping[str, Decimal] = field(default_factory=dict)
    signals: tuple[Signal, ...] = ()
    info: Mapping[str, str] = field(default_factory=dict)
    alt_per_unit: Decimal | None = None
    alt_unit: str | None = None
    resets_at: datetime | None = None  # a quota that refills then (Lobstr `reset_time`)

    def __post_init__(self) -> None:
        object.__setattr__(self, "breakdown", _frozen(self.breakdown))
        object.__setattr__(self, "info", _frozen(self.info))

    def money(self, amount: Decimal | None = None) -> Money:
        """This reading's unit applied to `amount` (default: the balance itself)."""
        value = self.amount if amount is None else amount
        return Money(value, self.unit, self.alt_per_unit, self.alt_unit)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a poll produced no reading. `auth`: the key was refused, so alert at once;
    `retry_after`: the provider asked us to wait (HTTP 429), in seconds."""

    reason: str
    auth: bool = False
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Poll:
    """What one poll observed, a reading or a failure, and when."""

    checked_at: datetime
    reading: Reading | None = None
    failure: Failure | None = None
    duration: float = 0.0

    def __post_init__(self) -> None:
        if (self.reading is None) == (self.failure is None):
            raise ValueError("a poll has either a reading or a failure")
