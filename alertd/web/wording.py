"""How the status page and the API say times, durations and forecasts to a person: the same
words everywhere a value appears (`~3.2 days`, `2026-11-25 14:00 UTC`, `$4.10/day`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alertd.core.forecast import Forecast, Outlook
from alertd.core.format import format_amount, format_span

_CENT = Decimal("0.01")


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`, for the API."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ago(moment: datetime, now: datetime) -> str:
    """`12 seconds ago`, `3 minutes ago`; a moment ahead of `now` (clock skew) is `just now`."""
    if now - moment < timedelta(seconds=1):
        return "just now"
    return f"{format_span(now - moment).removeprefix('~')} ago"


def burn(forecast: Forecast) -> str | None:
    """`$4.10/day`, to the cent; None while there is no rate."""
    if forecast.rate is None:
        return None
    return f"{format_amount(forecast.rate.quantize(_CENT), forecast.unit)}/day"


def runway(forecast: Forecast) -> str:
    """One line a person reads at a glance: when it runs out, or why there is no date."""
    outlook, reset = forecast.outlook, forecast.resets_at
    around = f" (around {when(forecast.exhausted_at)})" if forecast.exhausted_at else ""
    if outlook is Outlook.EMPTY:
        return "used up"
    if outlook is Outlook.RUNS_OUT and forecast.runway is not None:
        before = f", before the reset on {when(reset)}" if reset else ""
        return f"runs out in {format_span(forecast.runway)}{around}{before}"
    if outlook is Outlook.LASTS_UNTIL_RESET:
        return f"lasts until the reset{f' on {when(reset)}' if reset else ''}"
    if outlook is Outlook.NOT_BURNING:
        return "not burning: no runway"
    have = format_span(forecast.history).removeprefix("~")
    need = format_span(forecast.needed).removeprefix("~")
    return f"not enough history yet ({have} of {need})"
