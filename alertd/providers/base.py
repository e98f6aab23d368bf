"""What every provider shares: the request, the status-to-error mapping, the size cap.

A provider subclass says where its endpoint is, how it authenticates, and how its body
becomes a `Reading` (`parse`, pure: no IO, no clock). `fetch` is the only IO here.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
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

MAX_BODY_BYTES = 1024 * 1024


class SimulatedAccount(Protocol):
    """What the provider simulator (alertd.demo) knows of an account it serves."""

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
    def simulated_body(cls, account: SimulatedAccount) -> Any:
        """The documented response body for `account`'s balance (unless `simulated` is off)."""
        raise NotImplementedError

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        """Turns a decoded JSON body into a Reading, or raises ResponseError. Pure."""
        raise NotImplementedError

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
        headers = {"Accept": "application/json"}
        if self.needs_api_key:
            headers.update(self.auth_headers(self.config.api_key_value()))
        return headers

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
                status, headers, raw = await self._get(client, seconds=timeout)
        except TimeoutError:
            raise UnavailableError(f"timed out after {timeout:g}s") from None
        except httpx.TimeoutException:
            raise UnavailableError(f"timed out after {timeout:g}s") from None
        except httpx.ConnectError:
            raise UnavailableError("cannot connect (refused or unreachable)") from None
        except httpx.HTTPError as exc:
            raise UnavailableError(f"transport error ({type(exc).__name__})") from None
        check_status(status, headers)
        return self.parse(decode_json(raw), now)

    async def _get(self, client: HttpClient, *, seconds: float) -> tuple[int, httpx.Headers, bytes]:
        async with client.get(
            self.url,
            self.request_headers(),
            seconds=seconds,
            pool=self.name,
            keepalive=self.config.interval.total_seconds() < KEEPALIVE_EXPIRY,
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise ResponseError(f"response body over {MAX_BODY_BYTES // 1024} KiB refused")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise ResponseError(f"response body over {MAX_BODY_BYTES // 1024} KiB refused")
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)


def check_status(status: int, headers: Mapping[str, str]) -> None:
    """Maps a non-2xx status to the error a user can act on."""
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise AuthError(f"credentials rejected (HTTP {status})")
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        hint = f", retry after {retry_after:g}s" if retry_after is not None else ""
        raise RateLimitedError(f"rate limited (HTTP 429{hint})", retry_after)
    if status >= 500:
        raise UnavailableError(f"provider unavailable (HTTP {status})")
    raise ResponseError(f"unexpected HTTP {status}")


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is rare for APIs and is treated as absent."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None


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
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


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
    cleaned = text.strip()
    if "," in cleaned:
        if not _GROUPED.fullmatch(cleaned):
            raise ResponseError(f"unexpected response: {path} is not a number")
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ResponseError(f"unexpected response: {path} is not a number") from None
    if not value.is_finite():
        raise ResponseError(f"unexpected response: {path} is not a number")
    return _plausible(value, path)


def _plausible(value: Decimal, path: str) -> Decimal:
    """Refuses absurd magnitudes (1e400) that no balance has and that would only break maths."""
    if value.copy_abs() >= MAX_MAGNITUDE:  # abs() rounds: Overflow above Emax (1e999999999)
        raise ResponseError(f"unexpected response: {path} is implausibly large")
    return value


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
    "number",
    "require_object",
]
