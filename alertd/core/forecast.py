"""PURE: what a provider's burn rate says about its future (SPEC §6), as a plain value.

`Forecast` is computed by `alertd.core.burn` from the provider's spending history; the
runway check, the message line, `alertd check`, `/metrics` and the status page all read it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


class Outlook(enum.StrEnum):
    NOT_ENOUGH_HISTORY = "not enough history"  # less than a seventh of burn_window so far
    NOT_BURNING = "not burning"  # nothing spent within the window: no runway
    RUNS_OUT = "runs out"  # at `exhausted_at` (before the reset, when there is one)
    LASTS_UNTIL_RESET = "lasts until the reset"  # the quota refills before it runs out
    EMPTY = "empty"  # the balance is at or below zero already


@dataclass(frozen=True, slots=True)
class Forecast:
    """`rate` is spending per day in the balance's unit: the faster of the whole window's
    rate and its last seventh's. `runway` counts from `now`; `exhausted_at` from the last
    reading. `history` is how much history there is, `needed` how much a forecast needs."""

    outlook: Outlook
    unit: str
    history: timedelta
    needed: timedelta
    rate: Decimal | None = None  # per day
    window_rate: Decimal | None = None  # per day, over the whole burn_window
    recent_rate: Decimal | None = None  # per day, over its last seventh
    runway: timedelta | None = None
    exhausted_at: datetime | None = None
    resets_at: datetime | None = None
    topups: int = 0  # rises recorded as top-ups or resets since alertd started watching

    @property
    def has_runway(self) -> bool:
        return self.outlook in (Outlook.RUNS_OUT, Outlook.EMPTY)
