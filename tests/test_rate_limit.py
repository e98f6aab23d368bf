"""Retry-After in the engine, in process with a fake clock: a deferral is capped at the
failure threshold's time, and every poll it skips counts as a failed check, so a provider
asking for a day reaches "cannot check" instead of silencing its check (issue 8).

The provider is a real loopback server; the clock is a list the test moves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.daemon import write_config
from support.http_stub import HttpStub, Reply

from alertd.config.loader import load
from alertd.core.model import Severity
from alertd.engine import Engine
from alertd.http import HttpClient
from alertd.notify.dispatch import Dispatcher

START = datetime(2026, 3, 29, 17, 50, tzinfo=UTC)
PATH = "/v1/account/balance"
LIMITED = Reply(status=429, headers={"Retry-After": "86399"})
HEALTHY = Reply(body=b'{"totalBalanceCents": 1700}')


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def engine(
    stub_server: HttpStub, http_client: HttpClient, tmp_path: Path
) -> AsyncIterator[tuple[Engine, Clock]]:
    config = write_config(
        tmp_path / "config.yaml",
        {"limited": {"type": "browser7", "api_key": "k", "base_url": stub_server.url}},
        {"ops": "json://127.0.0.1:9/hook"},
        {"interval": "1m", "failure_threshold": 3},
    )
    settings = load(config)
    clock = Clock()
    engine = Engine(settings, http_client, Dispatcher(settings.config.notifiers), clock)
    yield engine, clock
    for task in engine.pending_deliveries():  # the alert's delivery to a closed port
        task.cancel()


async def poll_at(engine: Engine, clock: Clock, minutes: int) -> tuple[int, Severity, str]:
    clock.now = START + timedelta(minutes=minutes)
    await engine.poll_provider("limited")
    fetch = engine.checks()["limited"]["fetch"]
    return fetch.failures, fetch.severity, fetch.detail


async def test_a_day_of_retry_after_is_capped_and_counted(
    engine: tuple[Engine, Clock], stub_server: HttpStub
) -> None:
    eng, clock = engine
    stub_server.answer(PATH, LIMITED)

    first = await poll_at(eng, clock, 0)
    deferred = [await poll_at(eng, clock, 1), await poll_at(eng, clock, 2)]
    assert len(stub_server.requests) == 1  # the deferred polls did not ask the provider
    stub_server.answer(PATH, HEALTHY)
    retried = await poll_at(eng, clock, 3)  # 3 x 1m after the 429, not a day

    assert first == (1, Severity.OK, "cannot check: rate limited (HTTP 429, retry after 86399s)")
    next_try = "cannot check: rate limited, next try at 2026-03-29 17:53:00 UTC"
    assert deferred == [(2, Severity.OK, next_try), (3, Severity.WARNING, next_try)]
    assert retried == (0, Severity.OK, "checked successfully")
    assert len(stub_server.requests) == 2


async def test_a_short_retry_after_defers_nothing_past_it(
    engine: tuple[Engine, Clock], stub_server: HttpStub
) -> None:
    eng, clock = engine
    stub_server.answer(PATH, Reply(status=429, headers={"Retry-After": "30"}))
    await poll_at(eng, clock, 0)
    stub_server.answer(PATH, HEALTHY)
    assert await poll_at(eng, clock, 1) == (0, Severity.OK, "checked successfully")
    assert len(stub_server.requests) == 2


async def test_an_unreadable_retry_after_defers_nothing(
    engine: tuple[Engine, Clock], stub_server: HttpStub
) -> None:
    """`8_6_3_9_9` used to be read as 86399 s (float() accepts underscores)."""
    eng, clock = engine
    stub_server.answer(PATH, Reply(status=429, headers={"Retry-After": "8_6_3_9_9"}))
    assert await poll_at(eng, clock, 0) == (1, Severity.OK, "cannot check: rate limited (HTTP 429)")
    await poll_at(eng, clock, 1)
    assert len(stub_server.requests) == 2
