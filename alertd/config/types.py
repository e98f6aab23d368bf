"""Small value types of the config file: durations (`1h30m`), thresholds (`20`, `20%`)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from alertd.core.rules import Threshold

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: Any) -> timedelta:
    """`30s`, `5m`, `1h30m`, `1d`, or whole seconds as an integer (or digits)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 1h30m, 1d or whole seconds")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    text = str(value).strip().lower()
    if text.isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"'{text}' is not a duration such as 30s, 5m, 1h30m, 1d or whole seconds")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration, for messages: `1h30m`, `45s`, `0s`."""
    total = int(delta.total_seconds())
    parts = []
    for size, suffix in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def parse_decimal(value: Any) -> Decimal:
    """A finite number from YAML (int, float via its text, or a numeric string)."""
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise ValueError(f"'{value}' is not a finite number")
    return number


def parse_threshold(value: Any) -> Threshold:
    if isinstance(value, Threshold):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        number = parse_decimal(text[:-1])
        if not 0 <= number <= 100:
            raise ValueError(f"'{text}' is not a percentage between 0% and 100%")
        return Threshold(number, percent=True)
    return Threshold(parse_decimal(value))


ThresholdValue = Annotated[
    Threshold,
    BeforeValidator(parse_threshold),
    PlainSerializer(str, return_type=str),
]


def parse_fraction(value: Any) -> Decimal:
    """`90%` or `0.9` as a fraction between 0 and 1."""
    text = str(value).strip()
    number = parse_decimal(text[:-1]) / 100 if text.endswith("%") else parse_decimal(text)
    if not 0 <= number <= 1:
        raise ValueError(f"'{text}' is not between 0% and 100%")
    return number


Fraction = Annotated[Decimal, BeforeValidator(parse_fraction)]


def parse_jitter(value: Any) -> Threshold:
    """`10%` of the interval, or an absolute duration such as `30s`."""
    if isinstance(value, Threshold):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        return parse_threshold(text)
    return Threshold(Decimal(int(parse_duration(value).total_seconds())))


Jitter = Annotated[
    Threshold,
    BeforeValidator(parse_jitter),
    PlainSerializer(str, return_type=str),
]
