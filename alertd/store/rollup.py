"""Hourly summaries of raw samples, for retention (SPEC §6): what every store keeps of a
reading once it is older than `history_retention`. No IO: the stores feed it rows.

`spent` sums the *drops* of the balance, each counted in the hour of the reading that shows
it (so a drop across an hour boundary is counted once, in the later hour): a rise is a
top-up or a reset, recorded as an event by the burn tracker, never negative spending. An
hour in which the unit changed keeps only the readings in its last unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby

from alertd.core.series import Sample, Summary

HOUR = timedelta(hours=1)


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def summarize(samples: Sequence[Sample], before: Sample | None = None) -> list[Summary]:
    """One summary per hour of `samples` (oldest first). `before` is the reading just before
    the first one (or the last summary's closing level), so the first drop is counted too."""
    summaries = []
    previous = before
    for hour, group in groupby(samples, key=lambda s: hour_of(s.at)):
        readings = list(group)
        unit = readings[-1].unit
        kept = [s for s in readings if s.unit == unit]
        spent = Decimal(0)
        for sample in readings:
            if previous is not None and previous.unit == sample.unit == unit:
                spent += max(previous.amount - sample.amount, Decimal(0))
            previous = sample
        amounts = [s.amount for s in kept]
        summaries.append(
            Summary(
                hour=hour,
                unit=unit,
                first=amounts[0],
                last=amounts[-1],
                low=min(amounts),
                high=max(amounts),
                spent=spent,
                readings=len(kept),
            )
        )
    return summaries


def closing(summary: Summary) -> Sample:
    """The level a summarized hour ended at, as the `before` of the next hour."""
    return Sample(summary.hour, summary.last, summary.unit)


def merge(earlier: Summary, later: Summary) -> Summary:
    """Two summaries of the same hour (readings that arrived after the hour was folded):
    one hour; a summary in another unit replaces the earlier one."""
    if earlier.unit != later.unit:
        return later
    return replace(
        earlier,
        last=later.last,
        low=min(earlier.low, later.low),
        high=max(earlier.high, later.high),
        spent=earlier.spent + later.spent,
        readings=earlier.readings + later.readings,
    )


def merged(existing: Iterable[Summary], new: Iterable[Summary]) -> list[Summary]:
    """`existing` and `new` summaries by hour, oldest first, those of the same hour merged."""
    by_hour = {s.hour: s for s in existing}
    for summary in new:
        kept = by_hour.get(summary.hour)
        by_hour[summary.hour] = merge(kept, summary) if kept else summary
    return [by_hour[hour] for hour in sorted(by_hour)]
