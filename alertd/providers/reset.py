"""When a quota refills (Reading.resets_at), from whatever a provider reports.

APIs say it three ways: an ISO 8601 time (DeepL `end_time`, Apify `endAt`, Lobstr
`reset_time`), Unix seconds (ElevenLabs), or only the period's name (OpenRouter
`limit_reset`: "daily", "weekly", "monthly", which reset at midnight UTC, weeks starting on
Monday). The reset is optional: an odd value costs the forecast its reset-awareness, never
the reading.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alertd.errors import ResponseError
from alertd.providers.base import instant


def next_month_start(now: datetime) -> datetime:
    """Midnight UTC on the first of the month after `now`."""
    moment = now.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def next_period_start(period: str, now: datetime) -> datetime | None:
    """The next midnight UTC that starts a day, a week (Monday) or a month after `now`."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    word = period.strip().lower()
    if word == "daily":
        return midnight + timedelta(days=1)
    if word == "weekly":
        return midnight + timedelta(days=7 - midnight.weekday())
    if word == "monthly":
        return next_month_start(now)
    return None


def reset_time(value: Any, path: str, now: datetime) -> datetime | None:
    """The reset a provider reports at `path`, or None when it reports none (or an odd one)."""
    if value is None:
        return None
    if isinstance(value, str):
        period = next_period_start(value, now)
        if period is not None:
            return period
    try:
        return instant(value, path)
    except ResponseError:
        return None
