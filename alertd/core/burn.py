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
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from alertd.core.forecast import Forecast, Outlook
from alertd.core.series import Event, EventKind, Sample

MARKS_PER_WINDOW = 56  # 8 marks in the last seventh: its rate is exact to 1/8 of its span
RECENT_SHARE = 7  # the short window is the last seventh of `burn_window`
RESET_TOLERANCE = timedelta(hours=1)  # a refill this early is still the reset (clock skew)
LONGEST_RUNWAY = timedelta(days=3650)  # beyond ten years a balance is not burning
SECONDS_PER_DAY = Decimal(86400)
_LONGEST_SECONDS = Decimal(int(LONGEST_RUNWAY.total_seconds()))


@dataclass(frozen=True, slots=True)
class Burn:
    """The spent counter at the last reading and the marks to measure rates against."""

    first_at: datetime | None = None
    last: Sample | None = None
    resets_at: datetime | None = None  # as the last reading reported it
    spent: Decimal = Decimal(0)
    mark_times: tuple[datetime, ...] = ()  # ascending; with the counter at each
    mark_spent: tuple[Decimal, ...] = ()
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
        return Burn(sample.at, sample, resets_at, Decimal(0), (sample.at,), (Decimal(0),)), None
    change = sample.amount - last.amount
    spent = burn.spent - change if change < 0 else burn.spent
    event = None
    if change > 0:
        refilled = burn.resets_at is not None and sample.at >= burn.resets_at - RESET_TOLERANCE
        kind = EventKind.RESET if refilled else EventKind.TOPUP
        event = Event(sample.at, kind, change, sample.amount)
    times, spents = burn.mark_times, burn.mark_spent
    if sample.at - times[-1] >= window / MARKS_PER_WINDOW:
        # Keep the newest mark at or before the window's start (the rate's base) and all after.
        base = max(bisect_right(times, sample.at - window) - 1, 0)
        times, spents = (*times[base:], sample.at), (*spents[base:], spent)
    topups = burn.topups + (event is not None)
    return Burn(burn.first_at, sample, resets_at, spent, times, spents, topups), event


def _rate(burn: Burn, since: datetime) -> Decimal:
    """Spending per day from the newest mark at or before `since` (or the oldest) to the last
    reading."""
    assert burn.last is not None
    index = max(bisect_right(burn.mark_times, since) - 1, 0)
    seconds = (burn.last.at - burn.mark_times[index]).total_seconds()
    if seconds <= 0:
        return Decimal(0)
    return (burn.spent - burn.mark_spent[index]) * SECONDS_PER_DAY / Decimal(seconds)


def project(burn: Burn, window: timedelta, now: datetime) -> Forecast | None:
    """The forecast at `now` from the tracker; None before the first reading. (Built with
    one constructor call: this runs on every poll of every provider.)"""
    last, first_at = burn.last, burn.first_at
    if last is None or first_at is None:
        return None
    needed = window / RECENT_SHARE
    history = last.at - first_at
    if history < needed:
        return Forecast(Outlook.NOT_ENOUGH_HISTORY, last.unit, history, needed,
                        resets_at=burn.resets_at, topups=burn.topups)  # fmt: skip
    window_rate = _rate(burn, last.at - window)
    recent_rate = _rate(burn, last.at - needed)
    rate = max(window_rate, recent_rate)
    runway: timedelta | None = None
    exhausted_at: datetime | None = None
    if last.amount <= 0:
        outlook, runway = Outlook.EMPTY, timedelta(0)
    elif rate <= 0 or last.amount / rate * SECONDS_PER_DAY > _LONGEST_SECONDS:
        outlook = Outlook.NOT_BURNING
    else:
        exhausted_at = last.at + timedelta(seconds=float(last.amount / rate * SECONDS_PER_DAY))
        runway = max(exhausted_at - now, timedelta(0))
        resets_at = burn.resets_at
        lasts = resets_at is not None and now < resets_at <= exhausted_at
        outlook = Outlook.LASTS_UNTIL_RESET if lasts else Outlook.RUNS_OUT
    return Forecast(outlook, last.unit, history, needed, rate, window_rate, recent_rate, runway,
                    exhausted_at, burn.resets_at, burn.topups)  # fmt: skip


def replay(samples: list[Sample], window: timedelta) -> Burn:
    """A tracker rebuilt from stored samples (at start: only the window's worth is read)."""
    burn = Burn()
    for sample in samples:
        burn, _ = track(burn, sample, None, window)
    return burn
