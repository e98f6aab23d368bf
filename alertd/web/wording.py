"""How the status page and the API say times, durations and forecasts to a person: the same
words everywhere a value appears (`~3.2 days`, `2026-11-25 14:00 UTC`, `$4.10/day`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alertd.core.forecast import Forecast, Outlook
from alertd.core.format import format_amount


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`, for the API."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def span(delta: timedelta) -> str:
    """`~3.2 days`, `~5.5 h`, `~40 min`, `under a minute`: a runway is an estimate."""
    seconds = delta.total_seconds()
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"~{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"~{seconds / 3600:.1f} h"
    return f"~{seconds / 86400:.1f} days"


def ago(moment: datetime, now: datetime) -> str:
    """`12 s ago`, `3 min ago`, `2.0 h ago`; a moment ahead of `now` (clock skew) is `just now`."""
    seconds = (now - moment).total_seconds()
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    return f"{span(now - moment).removeprefix('~')} ago"


def burn(forecast: Forecast) -> str | None:
    """`$4.10/day`; None while there is no rate."""
    if forecast.rate is None:
        return None
    return f"{format_amount(forecast.rate, forecast.unit)}/day"


def runway(forecast: Forecast) -> str:
    """One line a person reads at a glance: when it runs out, or why there is no date."""
    outlook = forecast.outlook
    if outlook is Outlook.EMPTY:
        return "empty now"
    if outlook is Outlook.RUNS_OUT and forecast.runway is not None:
        text = f"runs out in {span(forecast.runway)}"
        if forecast.exhausted_at is not None:
            text += f" (around {when(forecast.exhausted_at)})"
        if forecast.resets_at is not None:
            text += ", before the reset"
        return text
    if outlook is Outlook.LASTS_UNTIL_RESET:
        reset = f" on {when(forecast.resets_at)}" if forecast.resets_at else ""
        return f"lasts until the reset{reset}"
    if outlook is Outlook.NOT_BURNING:
        return "not burning: no runway"
    have, need = span(forecast.history).removeprefix("~"), span(forecast.needed).removeprefix("~")
    return f"not enough history yet ({have} of {need})"
