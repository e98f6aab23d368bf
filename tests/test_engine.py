"""The real engine driven in-process: a fake clock, providers that answer from a script, and
a dispatcher whose deliveries the test releases one by one. Nothing here sleeps on the wall
clock: time moves only when a test moves it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.core import T0

from alertd.config.loader import Settings
from alertd.config.model import AlertdConfig
from alertd.core.model import Failure, Poll, Reading
from alertd.core.render import Message
from alertd.engine import Engine
from alertd.http import HttpClient
from alertd.notify.lane import Outcome
from alertd.providers import build
from alertd.providers.base import Provider
from alertd.store.memory import MemoryStore


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class ScriptedProvider(Provider):
    """A provider whose polls answer from a queue: an amount in USD or a Failure."""

    def __init__(self, name: str, real: Provider) -> None:
        super().__init__(name, real.config)
        self.answers: deque[str | Failure] = deque()
        self.polls = 0
        self.gate: asyncio.Event | None = None  # set: the answer waits for it

    async def poll(self, client: HttpClient, clock: Callable[[], datetime]) -> Poll:
        self.polls += 1
        now = clock()
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers.popleft()
        if isinstance(answer, Failure):
            return Poll(now, failure=answer)
        return Poll(now, reading=Reading(Decimal(answer), "USD", now))


@dataclass
class Sent:
    notifier: str
    title: str


@dataclass
class HeldDispatcher:
    """Deliveries wait until the test releases them (`release`), or succeed at once."""

    hold: bool = False
    sent: list[Sent] = field(default_factory=list)
    waiting: list[tuple[Sent, asyncio.Future[bool]]] = field(default_factory=list)

    async def deliver(
        self,
        notifier: str,
        index: int,
        message: Message,
        on_failure: Callable[[], None] = lambda: None,
        key: Hashable = None,
        **context: Any,
    ) -> Outcome:
        item = Sent(notifier, message.title)
        if not self.hold:
            self.sent.append(item)
            return Outcome.SENT
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, done))
        ok = await done
        if ok:
            self.sent.append(item)
        return Outcome.SENT if ok else Outcome.FAILED

    def close(self) -> None:
        pass

    def release(self, title_part: str, ok: bool = True) -> None:
        for item, done in self.waiting:
            if title_part in item.title and not done.done():
                done.set_result(ok)
                return
        raise AssertionError(f"no delivery waiting with {title_part!r}")


def settings(providers: Mapping[str, Mapping[str, Any]]) -> Settings:
    config = AlertdConfig.model_validate(
        {
            "notifiers": {"ops": "json://127.0.0.1:9/hook"},
            "providers": {
                name: {"type": "youcom", "api_key": "k", "interval": "1m", **body}
                for name, body in providers.items()
            },
        }
    )
    adapters = {
        name: ScriptedProvider(name, build(name, cfg)) for name, cfg in config.providers.items()
    }
    return Settings(Path("config.yaml"), config, adapters)


def scripted(engine: Engine, name: str) -> ScriptedProvider:
    provider = engine.watches[name].provider
    assert isinstance(provider, ScriptedProvider)
    return provider


async def settle() -> None:
    """Lets delivery tasks run to their next wait."""
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def engine_for(
    providers: Mapping[str, Mapping[str, Any]], clock: Clock, dispatcher: HeldDispatcher
) -> Engine:
    return Engine(settings(providers), HttpClient(), dispatcher, clock)


async def polls(engine: Engine, name: str, answers: Iterable[str | Failure], clock: Clock) -> None:
    """One poll per answer, a minute apart."""
    for answer in answers:
        scripted(engine, name).answers.append(answer)
        await engine.poll_provider(name)
        await settle()
        clock.advance(minutes=1)


# -- rate limits --------------------------------------------------------------------------------


async def test_a_429_defers_polls_as_asked_and_counts_them_as_failures(clock: Clock) -> None:
    dispatcher = HeldDispatcher()
    engine = engine_for({"acct": {"warning": "20"}}, clock, dispatcher)
    await polls(engine, "acct", [Failure("rate limited (HTTP 429)", retry_after=150)], clock)

    await engine.poll_provider("acct")  # 1 min after the 429, 2.5 min asked: not polled
    assert scripted(engine, "acct").polls == 1
    assert engine.watches["acct"].state.checks["fetch"].failures == 2

    clock.advance(minutes=2)  # now past the deferral
    await polls(engine, "acct", ["50"], clock)
    assert scripted(engine, "acct").polls == 2
    assert engine.watches["acct"].state.checks["fetch"].failures == 0


async def test_a_day_long_retry_after_still_ends_in_cannot_check(clock: Clock) -> None:
    dispatcher = HeldDispatcher()
    engine = engine_for({"acct": {"failure_threshold": 3}}, clock, dispatcher)
    await polls(engine, "acct", [Failure("rate limited (HTTP 429)", retry_after=86399)], clock)
    await engine.poll_provider("acct")
    clock.advance(minutes=1)
    await engine.poll_provider("acct")  # the third failed poll: cannot check
    await settle()

    assert [s.title for s in dispatcher.sent] == [
        "[WARNING] acct: cannot check balance: rate limited, next try at"
        f" {T0 + timedelta(minutes=3):%Y-%m-%d %H:%M:%S} UTC"
    ]
    clock.advance(minutes=1)  # 3 intervals after the 429: polled again despite "a day"
    await polls(engine, "acct", ["50"], clock)
    assert scripted(engine, "acct").polls == 2


# -- deliveries under way -----------------------------------------------------------------------


async def test_an_escalation_cancels_the_delivery_of_the_older_news(clock: Clock) -> None:
    dispatcher = HeldDispatcher(hold=True)
    engine = engine_for({"acct": {"warning": "20", "critical": "5"}}, clock, dispatcher)
    await polls(engine, "acct", ["19", "18"], clock)
    assert len(dispatcher.waiting) == 1  # the warning, once: the second poll saw it pending

    await polls(engine, "acct", ["4"], clock)
    warning_delivery = dispatcher.waiting[0][1]
    assert warning_delivery.cancelled()
    dispatcher.release("CRITICAL")
    await settle()

    assert [s.title for s in dispatcher.sent] == [
        "[CRITICAL] acct: balance $4.00 below critical threshold"
    ]
    sent = engine.watches["acct"].state.checks["balance"].sent
    assert [s.severity.label for s in sent.values()] == ["critical"]
    assert engine.watches["acct"].state.pending == {}


async def test_a_reload_repointing_a_provider_leaves_old_deliveries_to_the_old_account(
    clock: Clock,
) -> None:
    """Issue 9's bug: a delivery for the old account either recorded into the new account's
    state, or made the new account's first alert look "already being delivered"."""
    dispatcher = HeldDispatcher(hold=True)
    engine = engine_for({"acct": {"warning": "20"}}, clock, dispatcher)
    await polls(engine, "acct", ["19"], clock)  # the old account's warning, held in flight
    old = engine.watches["acct"]

    repointed = settings({"acct": {"warning": "20", "api_key": "another-account"}})
    engine.reconfigure(repointed, dispatcher, restart={"acct"})
    assert engine.watches["acct"] is not old
    await polls(engine, "acct", ["15"], clock)

    # the new account's own first alert goes out, not swallowed as a duplicate
    assert [item.title for item, _ in dispatcher.waiting] == [
        "[WARNING] acct: balance $19.00 below warning threshold",
        "[WARNING] acct: balance $15.00 below warning threshold",
    ]
    dispatcher.release("$19.00")  # the old account's delivery ends now
    await settle()
    new = engine.watches["acct"].state
    assert new.checks["balance"].sent == {}  # the old delivery recorded nothing here
    assert list(new.pending.values()) == [new.checks["balance"].severity]

    dispatcher.release("$15.00")
    await settle()
    assert [s.severity.label for s in engine.watches["acct"].state.checks["balance"].sent.values()]
    assert engine.checks()["acct"]["balance"].sent  # what the state file would keep


async def test_a_reload_keeping_the_account_keeps_state_and_deliveries(clock: Clock) -> None:
    dispatcher = HeldDispatcher(hold=True)
    engine = engine_for({"acct": {"warning": "20"}}, clock, dispatcher)
    await polls(engine, "acct", ["19"], clock)
    watch = engine.watches["acct"]

    engine.reconfigure(settings({"acct": {"warning": "25"}}), dispatcher)
    assert engine.watches["acct"] is watch
    assert watch.rules.levels.warning is not None
    assert watch.rules.levels.warning.value == 25
    await polls(engine, "acct", ["19"], clock)
    assert len(dispatcher.waiting) == 1  # still the same news, still being delivered

    dispatcher.release("$19.00")
    await settle()
    assert [s.severity.label for s in watch.state.checks["balance"].sent.values()] == ["warning"]


async def test_a_failed_delivery_is_decided_again_at_the_next_poll(clock: Clock) -> None:
    dispatcher = HeldDispatcher(hold=True)
    engine = engine_for({"acct": {"warning": "20"}}, clock, dispatcher)
    await polls(engine, "acct", ["19"], clock)
    dispatcher.release("$19.00", ok=False)
    await settle()
    assert engine.counters["notifications_failed"] == 1

    await polls(engine, "acct", ["18"], clock)
    assert [item.title for item, _ in dispatcher.waiting][-1] == (
        "[WARNING] acct: balance $18.00 below warning threshold"
    )


async def test_a_provider_removed_while_polled_is_discarded(clock: Clock) -> None:
    dispatcher = HeldDispatcher()
    engine = engine_for({"acct": {"warning": "20"}, "other": {}}, clock, dispatcher)
    provider = scripted(engine, "acct")
    provider.answers.append("19")
    provider.gate = asyncio.Event()
    polling = asyncio.create_task(engine.poll_provider("acct"))
    await settle()
    assert provider.polls == 1  # the request is out
    engine.reconfigure(settings({"other": {}}), dispatcher)
    provider.gate.set()
    await polling
    await settle()
    assert "acct" not in engine.watches
    assert dispatcher.sent == []


# -- what the store is given --------------------------------------------------------------------


async def test_each_poll_and_delivery_is_recorded_in_the_store(clock: Clock) -> None:
    """Readings, the checks when they change, and each notification that went out (only
    once it went out); a restored engine picks the alert state up where it was."""
    dispatcher = HeldDispatcher(hold=True)
    store = MemoryStore()
    engine = Engine(settings({"acct": {"warning": "20"}}), HttpClient(), dispatcher, clock, store)
    await polls(engine, "acct", ["25", "19"], clock)
    state = await store.load_state()
    assert state["acct"]["balance"].severity.label == "warning"
    assert state["acct"]["balance"].sent == {}  # not delivered yet: not recorded as sent

    dispatcher.release("$19.00")
    await settle()
    history = await store.history("acct", T0)
    assert [s.amount for s in history.samples] == [Decimal(25), Decimal(19)]
    [logged] = history.notifications
    assert (logged.provider, logged.check, logged.reason.value) == ("acct", "balance", "first")
    assert logged.title == "[WARNING] acct: balance $19.00 below warning threshold"
    sent = (await store.load_state())["acct"]["balance"].sent
    assert list(sent) == [logged.destination]

    restarted = Engine(
        settings({"acct": {"warning": "20"}}), HttpClient(), dispatcher, clock, store
    )
    assert await restarted.restore() == 1
    await polls(restarted, "acct", ["18"], clock)
    assert len(dispatcher.waiting) == 1  # already told: nothing new to send


async def test_a_provider_removed_by_a_reload_is_forgotten_by_the_store(clock: Clock) -> None:
    store = MemoryStore()
    dispatcher = HeldDispatcher()
    engine = Engine(settings({"acct": {"warning": "20"}}), HttpClient(), dispatcher, clock, store)
    await polls(engine, "acct", ["19"], clock)
    assert "acct" in await store.load_state()
    engine.reconfigure(settings({"other": {}}), dispatcher)
    assert await store.load_state() == {}
    assert (await store.history("acct", T0)).samples  # its history stays
