"""The listener's routes in process, on a real loopback socket, over hand-made providers and
a store whose history is slow, broken or counted: a late or failing store costs a sparkline
or a 503 with one line, never a hung page or a traceback; many readers share one render."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal

import aiohttp
import pytest
from structlog.testing import capture_logs
from support.core import at
from support.daemon import free_port

from alertd.config.model import HttpConfig
from alertd.core.series import Sample
from alertd.observability.health import Health
from alertd.observability.metrics import Metrics
from alertd.store.base import History
from alertd.web import routes
from alertd.web.guard import Listener
from alertd.web.listener import start_listener
from alertd.web.routes import Sources
from web.cards import Card, draining

HistoryReader = Callable[[str, datetime], Awaitable[History]]
Start = Callable[[HistoryReader], Awaitable[Listener]]
CARDS = {c.name: c for c in (draining("wallet", 100, 1, 6), draining("credits", 50, 2, 6))}


def healthy() -> Health:
    return Health(True, "ok")


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    listeners: list[Listener] = []

    async def start(history: HistoryReader) -> Listener:
        sources = Sources(
            healthy,
            Metrics(),
            watches=lambda: CARDS,
            clock=lambda: at(6),
            history=history,
            http=HttpConfig(),
        )
        listener = await start_listener(f"127.0.0.1:{free_port()}", sources)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        await listener.close()


async def fetch(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


def samples_of(card: Card) -> History:
    amounts = [Decimal(100 - h) for h in range(7)]
    return History(card.name, tuple(Sample(at(h), a, "USD") for h, a in enumerate(amounts)))


async def test_a_store_that_fails_is_one_line_and_the_page_goes_on(start: Start) -> None:
    async def broken(provider: str, since: datetime) -> History:
        raise OSError("disk I/O error")

    listener = await start(broken)
    with capture_logs() as logs:
        status, body = await fetch(listener.port, "/api/v1/providers/wallet/history")
    assert (status, body) == (503, '{"error": "the store could not be read (see alertd\'s log)"}')
    assert [(e["event"], e["error"]) for e in logs] == [("history_read_failed", "disk I/O error")]
    status, page = await fetch(listener.port, "/")
    assert status == 200
    assert 'data-provider="wallet"' in page
    assert "<polyline" not in page  # no history, no sparkline; the rest of the card is there


async def test_a_slow_store_costs_the_sparkline_not_the_page(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "HISTORY_SECONDS", 0.2)
    monkeypatch.setattr(routes, "HISTORY_API_SECONDS", 0.3)

    async def slow(provider: str, since: datetime) -> History:
        if provider == "credits":
            await asyncio.sleep(30)
        return samples_of(CARDS[provider])

    listener = await start(slow)
    status, page = await asyncio.wait_for(fetch(listener.port, "/"), 5)
    assert status == 200
    assert page.count("<polyline") == 1  # wallet's; credits' history came too late
    status, body = await fetch(listener.port, "/api/v1/providers/credits/history")
    assert (status, body) == (503, '{"error": "the store did not answer within 0.3s"}')


async def test_many_readers_share_one_render(start: Start) -> None:
    reads: list[str] = []

    async def counted(provider: str, since: datetime) -> History:
        reads.append(provider)
        await asyncio.sleep(0.05)
        return samples_of(CARDS[provider])

    listener = await start(counted)
    answers = await asyncio.gather(*(fetch(listener.port, "/") for _ in range(10)))
    assert {status for status, _ in answers} == {200}
    assert len({page for _, page in answers}) == 1
    assert sorted(reads) == ["credits", "wallet"]  # one history read per provider, not ten
