"""Small value types of the config file: durations (`1h30m`), thresholds (`20`, `20%`),
counts, and the listener's `host:port`.

Numbers are ASCII digits as written: `"١٢٣"`, `"１２３"` and `"1_000"` are refused, although
Python's `int()` and `Decimal()` would read them all.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from alertd.core.rules import Threshold
from alertd.text import printable

_DURATION = re.compile(r"^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
_DECIMAL = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$", re.I)
MAX_DURATION = timedelta(days=3650)


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_duration(value: Any) -> timedelta:
    """`30s`, `5m`, `1h30m`, `1d`, or whole seconds as an integer (or digits)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 1h30m, 1d or whole seconds")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(timedelta(seconds=min(value, 1 << 40)), str(value))
    text = str(value).strip().lower()
    if _ascii_digits(text):
        return _bounded(timedelta(seconds=min(int(text[:20]), 1 << 40)), text)
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(
            f"'{printable(text, 60)}' is not a duration such as 30s, 5m, 1h30m, 1d or whole seconds"
        )
    days, hours, minutes, seconds = (min(int(g[:20]), 1 << 40) if g else 0 for g in match.groups())
    try:
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        delta = MAX_DURATION * 2
    return _bounded(delta, text)


def _bounded(delta: timedelta, text: str) -> timedelta:
    if delta > MAX_DURATION:
        raise ValueError(f"'{printable(text, 60)}' is longer than {MAX_DURATION.days} days")
    return delta


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
    text = str(value).strip()
    if text in ("inf", "-inf", "nan"):  # a YAML float such as 1e400
        raise ValueError(f"'{text}' is not a finite number")
    if not _DECIMAL.match(text):
        raise ValueError(f"'{printable(text, 60)}' is not a number (ASCII digits, . and e only)")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{printable(text, 60)}' is not a number") from None
    if not number.is_finite() or abs(number.adjusted()) > 100:
        raise ValueError(f"'{printable(text, 60)}' is not a number of a sensible size")
    return number


def parse_count(value: Any) -> int:
    """A whole number written as such: `3` or `"3"`, not `true`, `3.5` or `"1_000"`."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("expected a whole number")
    text = str(value).strip()
    if not _ascii_digits(text.removeprefix("-")) or len(text) > 18:
        raise ValueError(f"'{printable(text, 60)}' is not a whole number")
    return int(text)


Count = Annotated[int, BeforeValidator(parse_count)]


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


def parse_factor(value: Any) -> Decimal:
    """`3x` or `3`: how many times the window's average rate counts as a spike (above 1)."""
    text = str(value).strip().lower()
    number = parse_decimal(text.removesuffix("x"))
    if number <= 1:
        raise ValueError(f"'{printable(text, 60)}' is not a factor above 1 such as 3x")
    return number


Factor = Annotated[
    Decimal, BeforeValidator(parse_factor), PlainSerializer(lambda v: f"{v}x", return_type=str)
]


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


def parse_listen(value: str) -> tuple[str, int]:
    """`127.0.0.1:9464`, `:9464` or `9464` (loopback unless a host is named), `[::]:9464`.

    The host is an IP address or a host name; `1.2.3.4.5` is neither.
    """
    text = value.strip()
    if _ascii_digits(text):
        return "127.0.0.1", _port(text, value)
    host, sep, port = text.rpartition(":")
    if not sep or not _ascii_digits(port):
        raise ValueError(f"'{printable(value, 80)}' is not host:port (e.g. 127.0.0.1:9464)")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    if not host:
        return "127.0.0.1", _port(port, value)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if bracketed or re.fullmatch(r"[0-9.]+", host) or not _HOSTNAME.match(host):
            raise ValueError(
                f"'{printable(value, 80)}': '{printable(host, 60)}' is not an IP address or"
                " host name"
            ) from None
    else:
        if address.version == 6 and not bracketed:
            raise ValueError(f"'{printable(value, 80)}': write an IPv6 address as [{host}]:PORT")
    return host, _port(port, value)


def _port(text: str, value: str) -> int:
    port = int(text[:6])
    if not 0 < port < 65536:
        raise ValueError(f"'{printable(value, 80)}': port {text[:6]} is not between 1 and 65535")
    return port
