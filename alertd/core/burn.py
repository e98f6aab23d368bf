"""PURE: the burn rate of a balance, kept incrementally, and the forecast it gives (SPEC §6).

The balance is turned into a monotonic *spent* counter, as Prometheus' `rate()` treats a
counter: a drop of the balance adds to it, a rise never subtracts from it but is recorded as
an `Event` (a top-up, or the quota refilling at its reset). So a top-up in the middle of the
window cannot read as negative spending, which is where `predict_linear` goes wrong.

Each poll costs O(1) amortized: `Burn` keeps the counter at the last reading and one *mark*
(time, counter) per 1/56 of `burn_window`, trimmed to the window, so a rate is
(counter now − counter at a mark) / elapsed time, never a scan of the history. The rate
over the whole window and over its last seventh are both kept; the faster one wins, so a
sudden acceleration shows at once while a quiet day does not hide a week's spending.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from alertd.core.forecast import Forecast, Outlook
from alertd.core.series import Event, EventKind, Sample

MARKS_PER_WINDOW = 56  # 8 marks in the last seventh: its rate is exact to 1/8 of its span
RECENT_SHARE = 7  # the short window is the last seventh of `burn_window`
RESET_TOLERANCE = timedelta(hours=1)  # a refill this early is still the reset (clock skew)
LONGEST_RUNWAY = timedelta(days=3650)  # beyond ten years a balance is not burning
SECONDS_PER_DAY = Decimal(86400)


@dataclass(frozen=True, slots=True)
class Mark:
    at: datetime
    spent: Decimal


@dataclass(frozen=True, slots=True)
class Burn:
    """The spent counter at the last reading and the marks to measure rates against."""

    first_at: datetime | None = None
    last: Sample | None = None
    resets_at: datetime | None = None  # as the last reading reported it
    spent: Decimal = Decimal(0)
    marks: tuple[Mark, ...] = ()
    topups: int = 0


def track(
    burn: Burn, sample: Sample, resets_at: datetime | None, window: timedelta
) -> tuple[Burn, Event | None]:
    """Folds one reading in; returns the new tracker and the rise it recorded, if any.

    A reading older than the last one is ignored (out of order); a change of unit starts
    the tracker afresh (a balance in another unit cannot be compared).
    """
    last = burn.last
    if last is not None and sample.at <= last.at:
        return burn, None
    if last is None or sample.unit != last.unit:
        mark = Mark(sample.at, Decimal(0))
        return Burn(sample.at, sample, resets_at, Decimal(0), (mark,)), None
    change = sample.amount - last.amount
    spent = burn.spent - change if change < 0 else burn.spent
    event = None
    if change > 0:
        refilled = burn.resets_at is not None and sample.at >= burn.resets_at - RESET_TOLERANCE
        kind = EventKind.RESET if refilled else EventKind.TOPUP
        event = Event(sample.at, kind, change, sample.amount)
    marks = burn.marks
    if sample.at - marks[-1].at >= window / MARKS_PER_WINDOW:
        marks = (*marks, Mark(sample.at, spent))
    marks = _trim(marks, sample.at - window)
    topups = burn.topups + (event is not None)
    return replace(
        burn, last=sample, resets_at=resets_at, spent=spent, marks=marks, topups=topups
    ), event


def _trim(marks: tuple[Mark, ...], window_start: datetime) -> tuple[Mark, ...]:
    """Keeps the newest mark at or before the window's start (the rate's base) and all after."""
    base = bisect_right(marks, window_start, key=lambda mark: mark.at) - 1
    return marks[base:] if base > 0 else marks


def _rate(burn: Burn, since: datetime) -> Decimal:
    """Spending per day from the newest mark at or before `since` (or the oldest) to the last
    reading."""
    assert burn.last is not None
    index = max(bisect_right(burn.marks, since, key=lambda mark: mark.at) - 1, 0)
    base = burn.marks[index]
    seconds = Decimal((burn.last.at - base.at).total_seconds())
    if seconds <= 0:
        return Decimal(0)
    return (burn.spent - base.spent) * SECONDS_PER_DAY / seconds


def project(burn: Burn, window: timedelta, now: datetime) -> Forecast | None:
    """The forecast at `now` from the tracker; None before the first reading."""
    last, first_at = burn.last, burn.first_at
    if last is None or first_at is None:
        return None
    needed = window / RECENT_SHARE
    history = last.at - first_at
    base = Forecast(
        Outlook.NOT_ENOUGH_HISTORY,
        last.unit,
        history,
        needed,
        resets_at=burn.resets_at,
        topups=burn.topups,
    )
    if history < needed:
        return base
    window_rate = _rate(burn, last.at - window)
    recent_rate = _rate(burn, last.at - needed)
    rate = max(window_rate, recent_rate)
    rated = replace(base, rate=rate, window_rate=window_rate, recent_rate=recent_rate)
    if last.amount <= 0:
        return replace(rated, outlook=Outlook.EMPTY, runway=timedelta(0))
    if rate <= 0 or last.amount / rate * SECONDS_PER_DAY > _seconds(LONGEST_RUNWAY):
        return replace(rated, outlook=Outlook.NOT_BURNING)
    exhausted_at = last.at + timedelta(seconds=float(last.amount / rate * SECONDS_PER_DAY))
    runway = max(exhausted_at - now, timedelta(0))
    resets_at = burn.resets_at
    if resets_at is not None and now < resets_at <= exhausted_at:
        outlook = Outlook.LASTS_UNTIL_RESET
    else:
        outlook = Outlook.RUNS_OUT
    return replace(rated, outlook=outlook, runway=runway, exhausted_at=exhausted_at)


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.total_seconds())


def replay(samples: list[Sample], window: timedelta) -> Burn:
    """A tracker rebuilt from stored samples (at start: only the window's worth is read)."""
    burn = Burn()
    for sample in samples:
        burn, _ = track(burn, sample, None, window)
    return burn
