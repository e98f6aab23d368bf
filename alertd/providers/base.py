"""What every provider shares: the request, the status-to-error mapping, the size cap.

A provider subclass says where its endpoint is, how it authenticates, and how its body
becomes a `Reading` (`parse`, pure: no IO, no clock). `fetch` is the only IO here.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol

import httpx

from alertd.config.model import ProviderConfig
from alertd.core.model import Failure, Poll, Reading
from alertd.errors import (
    AuthError,
    ProviderError,
    RateLimitedError,
    ResponseError,
    UnavailableError,
)
from alertd.http import KEEPALIVE_EXPIRY, HttpClient
from alertd.observability.logging import get_logger
from alertd.observability.redact import Redactor
from alertd.providers.body import ACCEPT_ENCODING, read_capped, too_big
from alertd.text import printable

MAX_BODY_BYTES = 1024 * 1024
MAX_PROVIDER_TEXT = 200  # characters of a provider's own error message that are shown


class SimulatedAccount(Protocol):
    """What the provider simulator (alertd.demo.scenario) knows of an account it serves."""

    name: str
    balance: Decimal
    capacity: Decimal
    unpaid_bill: bool
    plan_status: str
    storage_ratio: Decimal


class Provider:
    """One configured account of one provider type.

    A type is one subclass in one file: where its endpoint is (`path`, `default_base_url`),
    how it authenticates (`auth_headers`), how its body becomes a Reading (`parse`), which
    config it accepts (`config_problems`), and what its documented body looks like for a
    given balance (`simulated_body`, which the simulator of the demo, tests and bench serves).
    """

    type_name: ClassVar[str]
    title: ClassVar[str] = ""  # what it watches, for `alertd providers`
    docs_url: ClassVar[str] = ""  # the provider's own documentation of the endpoint
    path: ClassVar[str] = ""
    default_base_url: ClassVar[str | None] = None
    needs_api_key: ClassVar[bool] = True
    reports_capacity: ClassVar[bool] = False
    accepts_unit: ClassVar[bool] = False  # whether `unit:` may rename what it reports
    simulated: ClassVar[bool] = True  # the simulator serves it (see simulated_body)

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config

    # -- what subclasses say -------------------------------------------------------------
    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {}

    @classmethod
    def key_placement(cls) -> str:
        """Where the API key travels, for `alertd providers` (never a key itself)."""
        headers = cls.auth_headers("KEY")
        return ", ".join(f"header {name}: {value}" for name, value in headers.items())

    @classmethod
    def simulated_body(cls, account: SimulatedAccount) -> Any:
        """The documented response body for `account`'s balance (unless `simulated` is off)."""
        raise NotImplementedError

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        """Turns a decoded JSON body into a Reading, or raises ResponseError. Pure."""
        raise NotImplementedError

    def needs_key(self) -> bool:
        """Whether this account's config must give an `api_key` (or `api_key_file`)."""
        return self.needs_api_key

    def secrets(self) -> list[str]:
        """Every secret value this account sends, for the log redaction processor."""
        values = [self.config.api_key_value()]
        values.extend(value.get_secret_value() for value in self.config.headers.values())
        return [value for value in values if value]

    def provider_text(self, text: str) -> str:
        """A provider's own words (an error message) made fit to show: one line, bounded, and
        every secret of this account masked, since some APIs echo the key they refuse."""
        return printable(Redactor(self.secrets()).text(text), MAX_PROVIDER_TEXT)

    def config_warnings(self) -> list[str]:
        """What is valid in this account's config but probably not meant, one line each."""
        return []

    def has_capacity(self) -> bool:
        """Whether readings carry a capacity, so that `N%` thresholds make sense."""
        return self.reports_capacity

    def config_problems(self) -> list[str]:
        """What is wrong with this account's config for this type, one line per key."""
        cfg = self.config
        problems = []
        if self.default_base_url is None and not cfg.base_url:
            problems.append(f"base_url: required for type {cfg.type}")
        if cfg.unit and not self.accepts_unit:
            problems.append(f"unit: {cfg.type} reports its own unit, which cannot be renamed")
        if not self.has_capacity():
            for level in ("warning", "critical"):
                threshold = getattr(cfg, level)
                if threshold is not None and threshold.percent:
                    problems.append(
                        f"{level}: {threshold} is a percentage, but {cfg.type} reports no"
                        " capacity to take it of; give an amount in the provider's unit"
                    )
        return problems

    # -- the shared request ---------------------------------------------------------------
    @property
    def url(self) -> str:
        base = self.config.base_url or self.default_base_url or ""
        return base.rstrip("/") + self.endpoint_path()

    def endpoint_path(self) -> str:
        return self.path

    def request_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        if self.needs_api_key:
            headers.update(self.auth_headers(self.config.api_key_value()))
        return headers

    def request_url(self) -> str:
        """The URL as sent: `url` plus any query. Only `url` (never a query, where a key may
        travel) is ever shown or logged."""
        return self.url

    def request_method(self) -> str:
        return "GET"

    def request_body(self) -> bytes | None:
        """What a POST sends (http_json `method: POST`); None for a GET."""
        return None

    async def poll(self, client: HttpClient, clock: Callable[[], datetime]) -> Poll:
        """One poll with every failure turned into a value, never raised: a bug in an
        adapter costs one poll, never the daemon."""
        started = time.perf_counter()
        checked_at = clock()
        try:
            reading = await self.fetch(client, checked_at)
        except ProviderError as exc:
            return Poll(checked_at, failure=exc.failure(), duration=time.perf_counter() - started)
        except Exception as exc:
            get_logger(provider=self.name).exception("poll_crashed")
            reason = f"internal error while reading the response: {type(exc).__name__}"
            return Poll(checked_at, failure=Failure(reason), duration=time.perf_counter() - started)
        return Poll(checked_at, reading=reading, duration=time.perf_counter() - started)

    async def fetch(self, client: HttpClient, now: datetime) -> Reading:
        """One poll, bounded as a whole by the provider's timeout (a slow drip included)."""
        timeout = self.config.timeout.total_seconds()
        try:
            async with asyncio.timeout(timeout):
                raw = await self._get(client, seconds=timeout, now=now)
        except TimeoutError:
            raise UnavailableError(f"timed out after {timeout:g}s") from None
        except httpx.TimeoutException:
            raise UnavailableError(f"timed out after {timeout:g}s") from None
        except httpx.ConnectError as exc:
            raise UnavailableError(connect_failure(exc)) from None
        except httpx.HTTPError as exc:
            raise UnavailableError(f"transport error ({type(exc).__name__})") from None
        return self.parse(decode_json(raw), now)

    async def _get(self, client: HttpClient, *, seconds: float, now: datetime) -> bytes:
        """The decoded body of a 2xx answer; any other status raises before the body is read."""
        async with client.get(
            self.request_url(),
            self.request_headers(),
            seconds=seconds,
            pool=self.name,
            keepalive=self.config.interval.total_seconds() < KEEPALIVE_EXPIRY,
            method=self.request_method(),
            content=self.request_body(),
        ) as response:
            check_status(response.status_code, response.headers, now)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise too_big(MAX_BODY_BYTES)
            return await read_capped(
                response.aiter_raw(), response.headers.get("content-encoding"), MAX_BODY_BYTES
            )


def connect_failure(exc: httpx.ConnectError) -> str:
    """What went wrong while connecting: a TLS failure says so, with the verifier's words."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        why = printable(str(cause.verify_message or "verification failed"), 100)
        return f"TLS handshake failed: certificate not trusted ({why})"
    if isinstance(cause, ssl.SSLError):
        why = printable(str(cause.reason or type(cause).__name__), 100)
        return f"TLS handshake failed ({why})"
    return "cannot connect (refused or unreachable)"


def check_status(status: int, headers: Mapping[str, str], now: datetime) -> None:
    """Maps a non-2xx status to the error a user can act on."""
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise AuthError(f"credentials rejected (HTTP {status})")
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        hint = f", retry after {retry_after:g}s" if retry_after is not None else ""
        raise RateLimitedError(f"rate limited (HTTP 429{hint})", retry_after)
    if status >= 500:
        raise UnavailableError(f"provider unavailable (HTTP {status})")
    raise ResponseError(f"unexpected HTTP {status}")


MAX_RETRY_AFTER = 10**9  # seconds (~32 years): the engine caps the deferral far below anyway
_DELAY_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`: ASCII digits (RFC 9110 delay-seconds) or an HTTP
    date; anything else (`8_6_3_9_9`, `1.5`, `-1`, other digits) is treated as absent.

    A huge value is kept huge, not dropped: the engine caps how long it defers (see
    `Engine.poll_provider`), so a provider cannot silence a check by asking for a day.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return float(MAX_RETRY_AFTER if len(text) > 9 else min(int(text), MAX_RETRY_AFTER))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - now).total_seconds(), float(MAX_RETRY_AFTER)))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode_json(raw: bytes) -> Any:
    """JSON with every number as Decimal (money never goes through float)."""
    try:
        return json.loads(
            raw,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_no_constants,
        )
    except (ValueError, RecursionError):
        snippet = raw[:40].decode("utf-8", "replace").strip()
        kind = "HTML" if snippet.lower().startswith(("<!doctype", "<html")) else "non-JSON"
        raise ResponseError(f"{kind} response body, not JSON") from None
    except ArithmeticError:  # decimal.InvalidOperation: an exponent Decimal cannot hold (1e99…9)
        raise ResponseError("unexpected response: a number in the body is out of range") from None


# -- helpers for parse() ---------------------------------------------------------------------


def field(body: Any, path: str) -> Any:
    """`body["a"]["b"]` for path `a.b`, with a ResponseError naming the missing part."""
    current = body
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(current, dict):
            where = ".".join(walked[:-1]) or "body"
            raise ResponseError(f"unexpected response: {where} is not an object")
        if part not in current:
            raise ResponseError(f"unexpected response: {'.'.join(walked)} missing")
        current = current[part]
    return current


def number(body: Any, path: str) -> Decimal:
    """A finite number at `path`; strings, booleans and nulls are refused."""
    value = field(body, path)
    return as_number(value, path)


MAX_MAGNITUDE = Decimal("1e15")
# ASCII digits only: Decimal() also reads "١٢٣", "１２３" and "1_000", which no API means.
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def as_number(value: Any, path: str) -> Decimal:
    if isinstance(value, Decimal) and value.is_finite():
        return _plausible(value, path)
    shown = "null" if value is None else type(value).__name__
    if isinstance(value, bool):
        shown = "a boolean"
    elif isinstance(value, str):
        shown = "a string"
    raise ResponseError(f"unexpected response: {path} is not a number ({shown})")


def decimal_from_text(text: str, path: str) -> Decimal:
    """A number sent as text, thousands separators allowed: "1,250.75".

    Commas must group thousands: "1,25" (a decimal comma) is refused, not read as 125.
    """
    cleaned = text.strip(" \t\r\n")
    if _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    elif not _PLAIN.fullmatch(cleaned):
        raise ResponseError(f"unexpected response: {path} is not a number")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:  # an exponent beyond Decimal's range
        raise ResponseError(f"unexpected response: {path} is not a number") from None
    return _plausible(value, path)


def _plausible(value: Decimal, path: str) -> Decimal:
    """Refuses absurd magnitudes (1e400) that no balance has and that would only break maths."""
    if value.copy_abs() >= MAX_MAGNITUDE:  # abs() rounds: Overflow above Emax (1e999999999)
        raise ResponseError(f"unexpected response: {path} is implausibly large")
    return value


def instant(value: Any, path: str) -> datetime:
    """A moment the provider reports (a quota's reset): ISO 8601 with a zone, or Unix seconds.
    A time without a zone is read as UTC (what the documented examples mean)."""
    if isinstance(value, Decimal) and value.is_finite() and 0 <= value < 10**11:
        return datetime.fromtimestamp(int(value), UTC)
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ResponseError(f"unexpected response: {path} is not a time")


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ResponseError("unexpected response: body is not a JSON object")
    return body


__all__ = [
    "MAX_BODY_BYTES",
    "Provider",
    "ProviderError",
    "as_number",
    "check_status",
    "decimal_from_text",
    "decode_json",
    "field",
    "instant",
    "number",
    "require_object",
]
