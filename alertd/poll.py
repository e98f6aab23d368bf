"""One poll of one provider, with every failure turned into a value, never raised."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from alertd.core.model import Reading
from alertd.errors import ProviderError, ResponseError
from alertd.http import HttpClient
from alertd.observability.logging import get_logger
from alertd.providers import Provider


@dataclass(frozen=True, slots=True)
class PollResult:
    provider: str
    checked_at: datetime
    duration: float
    reading: Reading | None = None
    error: ProviderError | None = None


async def poll(provider: Provider, client: HttpClient, now: Callable[[], datetime]) -> PollResult:
    started = time.perf_counter()
    checked_at = now()
    try:
        reading = await provider.fetch(client, checked_at)
    except ProviderError as exc:
        return PollResult(provider.name, checked_at, time.perf_counter() - started, error=exc)
    except Exception as exc:  # a bug must cost one poll, never the daemon
        get_logger(provider=provider.name).exception("poll_crashed")
        error = ResponseError(f"internal error while reading the response: {type(exc).__name__}")
        return PollResult(provider.name, checked_at, time.perf_counter() - started, error=error)
    return PollResult(provider.name, checked_at, time.perf_counter() - started, reading=reading)
