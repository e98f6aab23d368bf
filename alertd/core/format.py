"""How amounts are shown to people: `$17.00 (1,700 renders)`, `8,450 credits`, `-$3.00`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from alertd.core.model import Money

MAX_PLACES = 6  # fractional cents are shown ($7,189.245); a 1e-999990 body is not a message
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def _group(value: Decimal, min_places: int) -> str:
    """Thousands separators, at least `min_places` decimals, never scientific notation."""
    exponent = value.normalize().as_tuple().exponent
    places = min_places
    if isinstance(exponent, int) and exponent < 0:
        places = max(min_places, min(-exponent, MAX_PLACES))
    return f"{value:,.{places}f}"


def format_amount(amount: Decimal, unit: str) -> str:
    """One amount in one unit; currencies get a symbol and cents, other units stay plain."""
    sign = "-" if amount < 0 else ""
    magnitude = abs(amount)
    symbol = _CURRENCY_SYMBOLS.get(unit.upper())
    if symbol is not None:
        return f"{sign}{symbol}{_group(magnitude, 2)}"
    if len(unit) == 3 and unit.isupper():
        return f"{sign}{_group(magnitude, 2)} {unit}"
    return f"{sign}{_group(magnitude, 0)} {unit}"


def format_money(money: Money) -> str:
    """The amount, plus its second reading in parentheses where the provider has one."""
    text = format_amount(money.amount, money.unit)
    if money.alt_per_unit is not None and money.alt_unit:
        alt = money.amount * money.alt_per_unit
        unit = money.alt_unit.removesuffix("s") if abs(alt) == 1 else money.alt_unit
        text += f" ({format_amount(alt, unit)})"
    return text


def format_span(span: timedelta) -> str:
    """A forecast's length, rounded as a forecast deserves: `~3.2 days`, `~5 hours`."""
    seconds = span.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size or unit == "second":
            value = seconds / size
            shown = f"{value:.1f}" if unit == "day" and value < 100 else f"{value:.0f}"
            return f"~{shown} {unit}{'' if shown == '1' else 's'}"
    raise AssertionError("unreachable")


def format_level(span: timedelta) -> str:
    """A configured runway level as written: `7d`, `36h`, `90m`."""
    seconds = int(span.total_seconds())
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"
