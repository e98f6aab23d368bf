"""PURE: what alertd remembers of a balance over time, as plain values.

A `Sample` is one reading as kept in the store (time, amount, unit, capacity); an `Event` is a
rise of the balance that the burn tracker recorded instead of reading it as negative spending
(a top-up, or a quota that refilled at its reset); a `Summary` is one hour of samples after
`history_retention`, kept instead of the raw readings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from alertd.core.model import Reading


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    amount: Decimal
    unit: str
    capacity: Decimal | None = None

    @classmethod
    def of(cls, reading: Reading) -> Sample:
        return cls(reading.checked_at, reading.amount, reading.unit, reading.capacity)


class EventKind(enum.StrEnum):
    TOPUP = "topup"  # the balance rose: money was added
    RESET = "reset"  # the balance rose at or after the quota's reported reset time


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    kind: EventKind
    amount: Decimal  # how much the balance rose
    balance: Decimal  # the balance after the rise


@dataclass(frozen=True, slots=True)
class Summary:
    """One hour of readings: `spent` is the sum of the drops within it (rises are events)."""

    hour: datetime
    unit: str
    first: Decimal
    last: Decimal
    low: Decimal
    high: Decimal
    spent: Decimal
    readings: int
