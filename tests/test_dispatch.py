"""Dispatcher against a real webhook receiver on 127.0.0.1, through Apprise `json://` URLs.

The receiver (the tests' one HTTP stub, as a webhook) answers each path from a script of
status codes (then 200) and keeps every JSON payload it was sent. Backoff goes through an
injected fake sleep that only records the delays (or holds them until the test releases it),
and the jitter through a random source that always draws the top of its range, so nothing
here waits and delays are exact.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.http_stub import HttpStub, SilentServer, webhook_stub

from alertd.config.model import NotifierConfig
from alertd.core.render import Message
from alertd.notify.dispatch import (
    READ_TIMEOUT_S,
    Dispatcher,
    Outcome,
    RetryPolicy,
    apprise_target,
)

MESSAGE = Message(
    title="[CRITICAL] browser7-prod: balance $4.50 (450 renders) fell below critical threshold",
    body="Provider: browser7-prod (browser7)\nBalance: $4.50 (450 renders)",
    notify_type="failure",
)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpStub]:
    """A webhook endpoint: `script(path, 500, 500)` makes the next two POSTs there fail."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with webhook_stub() as server:
        yield server


class FakeSleep:
    """Records each backoff wait; with `hold()` the lane stays in its backoff until `release()`."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._gate: asyncio.Event | None = None

    def hold(self) -> None:
        self._gate = asyncio.Event()

    def release(self) -> None:
        assert self._gate is not None
        self._gate.set()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(round(seconds, 1))
        if self._gate is not None:
            await self._gate.wait()


class TopRng(random.Random):
    """Jitter that always draws the top of its range: the delay is then the step itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Failures:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def dispatcher(
    notifiers: dict[str, list[str]],
    sleep: FakeSleep,
    attempts: int = 6,
    **options: Any,
) -> Dispatcher:
    configs = {name: NotifierConfig.model_validate(urls) for name, urls in notifiers.items()}
    return Dispatcher(configs, RetryPolicy(attempts=attempts), sleep=sleep, rng=TopRng(), **options)


def as_sent(message: Message) -> dict[str, Any]:
    """What Apprise's json:// POSTs for a message."""
    return {
        "version": "1.0",
        "title": message.title,
        "message": message.body,
        "attachments": [],
        "type": message.notify_type,
    }


def other(title: str) -> Message:
    return Message(title=title, body="body", notify_type="warning")


async def settle() -> None:
    """Lets the lane's worker run until it waits on something (the fake sleep's gate)."""
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_delivered_on_the_first_try(receiver: HttpStub) -> None:
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is Outcome.SENT

    assert receiver.received("/ops") == [as_sent(MESSAGE)]
    assert (sleep.delays, failures.count) == ([], 0)


async def test_two_server_errors_then_delivered_on_the_third_attempt(receiver: HttpStub) -> None:
    receiver.script("/ops", 500, 500)
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is Outcome.SENT

    assert receiver.received("/ops") == [as_sent(MESSAGE)] * 3
    assert sleep.delays == [1.0, 2.0]
    assert failures.count == 2


async def test_every_attempt_failing_returns_failed(receiver: HttpStub) -> None:
    receiver.script("/ops", *[503] * 10)
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep, attempts=4)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is Outcome.FAILED

    assert len(receiver.received("/ops")) == 4
    assert failures.count == 4  # one per failed attempt, the last one included
    assert sleep.delays == [1.0, 2.0, 4.0]  # no wait after the last attempt


async def test_backoff_is_per_url_so_every_message_waits_for_it(receiver: HttpStub) -> None:
    """A URL answering 500 is tried once per backoff step, however many messages wait for
    it: the step grows with the URL's consecutive failures, across messages."""
    receiver.script("/ops", *[500] * 10)
    sleep = FakeSleep()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep, attempts=2)

    outcomes = await asyncio.gather(
        *(sender.deliver("ops", 0, other(f"alert {n}"), key=n) for n in range(3))
    )

    assert outcomes == [Outcome.FAILED] * 3
    assert len(receiver.received("/ops")) == 6  # two attempts each, one at a time
    assert sleep.delays == [1.0, 2.0, 4.0, 8.0, 16.0]  # not 1, 1, 1 for each message


async def test_a_reload_keeps_a_failing_urls_backoff_and_its_one_lane(
    receiver: HttpStub,
) -> None:
    """After SIGHUP the same URL goes on where it was: still backing off (a dead webhook is
    not hit afresh), one lane (never two sends to it at once). A changed URL starts anew."""
    receiver.script("/ops", *[500] * 3)
    sleep = FakeSleep()
    before = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep, attempts=3)
    assert await before.deliver("ops", 0, MESSAGE) is Outcome.FAILED
    assert sleep.delays == [1.0, 2.0]

    after = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep, previous=before)
    assert after.lane("ops", 0) is before.lane("ops", 0)
    assert await after.deliver("ops", 0, MESSAGE) is Outcome.SENT
    assert sleep.delays == [1.0, 2.0, 4.0]  # the fourth attempt waited out the third step

    moved = dispatcher({"ops": [receiver.json_url("/elsewhere")]}, sleep, previous=after)
    assert moved.lane("ops", 0) is not after.lane("ops", 0)


async def test_success_resets_the_url_backoff(receiver: HttpStub) -> None:
    receiver.script("/ops", 500, 500)
    sleep = FakeSleep()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep)
    assert await sender.deliver("ops", 0, MESSAGE) is Outcome.SENT
    receiver.script("/ops", 500)
    assert await sender.deliver("ops", 0, MESSAGE) is Outcome.SENT
    assert sleep.delays == [1.0, 2.0, 1.0]


async def test_a_newer_message_replaces_a_queued_one_with_the_same_key(
    receiver: HttpStub,
) -> None:
    receiver.script("/ops", 500)
    sleep = FakeSleep()
    sleep.hold()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep)
    first = asyncio.create_task(sender.deliver("ops", 0, other("warning"), key="p/balance"))
    await settle()  # its first attempt failed: the URL is in backoff, the message waits
    second = asyncio.create_task(sender.deliver("ops", 0, other("critical"), key="p/balance"))
    await settle()
    sleep.release()

    assert await first is Outcome.SUPERSEDED
    assert await second is Outcome.SENT
    assert [m["title"] for m in receiver.received("/ops")] == ["warning", "critical"]


async def test_a_full_queue_drops_its_oldest_message(receiver: HttpStub) -> None:
    receiver.script("/ops", 500)
    sleep = FakeSleep()
    sleep.hold()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep, max_queued=2)
    lane = sender.lane("ops", 0)
    assert lane is not None
    head = asyncio.create_task(sender.deliver("ops", 0, other("head"), key="head"))
    await settle()  # failed once, back at the head of the queue, waiting out the backoff
    later = [asyncio.create_task(sender.deliver("ops", 0, other(f"m{n}"), key=n)) for n in range(2)]
    await settle()
    assert lane.queued == 2
    assert lane.dropped == 1
    sleep.release()

    assert await head is Outcome.DROPPED
    assert [await task for task in later] == [Outcome.SENT, Outcome.SENT]
    assert [m["title"] for m in receiver.received("/ops")] == ["head", "m0", "m1"]


async def test_close_abandons_waiting_messages_at_once(receiver: HttpStub) -> None:
    receiver.script("/ops", 500)
    sleep = FakeSleep()
    sleep.hold()
    sender = dispatcher({"ops": [receiver.json_url("/ops")]}, sleep)
    waiting = asyncio.create_task(sender.deliver("ops", 0, MESSAGE, key="k"))
    await settle()
    sender.close()
    assert await asyncio.wait_for(waiting, 1) is Outcome.ABANDONED
    assert await sender.deliver("ops", 0, MESSAGE) is Outcome.ABANDONED
    assert len(receiver.received("/ops")) == 1


async def test_only_the_failing_url_of_a_notifier_is_retried(receiver: HttpStub) -> None:
    receiver.script("/flaky", 500)
    sleep = FakeSleep()
    sender = dispatcher({"team": [receiver.json_url("/good"), receiver.json_url("/flaky")]}, sleep)
    assert sender.urls_of("team") == [0, 1]

    results = [await sender.deliver("team", index, MESSAGE) for index in (0, 1)]

    assert results == [Outcome.SENT, Outcome.SENT]
    assert receiver.received("/good") == [as_sent(MESSAGE)]
    assert len(receiver.received("/flaky")) == 2
    assert sleep.delays == [1.0]


async def test_a_refused_connection_fails_every_attempt() -> None:
    with socket.socket() as probe:  # a port that nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [f"json://127.0.0.1:{port}/ops"]}, sleep, attempts=2)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is Outcome.FAILED
    assert (failures.count, sleep.delays) == (2, [1.0])


async def test_an_unknown_notifier_is_not_delivered() -> None:
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({}, sleep, attempts=2)
    assert await sender.deliver("nobody", 0, MESSAGE, on_failure=failures) is Outcome.FAILED
    assert failures.count == 1


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers a byte: a hung webhook or SMTP server."""
    with SilentServer() as server:
        yield server.port


async def test_a_hung_url_is_abandoned_at_its_deadline_and_delays_no_other(
    receiver: HttpStub, silent_server: int
) -> None:
    sleep = FakeSleep()
    hung_url = f"json://127.0.0.1:{silent_server}/hook"
    sender = dispatcher(
        {"hung": [hung_url], "ops": [receiver.json_url("/ops")]}, sleep, attempts=1, deadline=1.5
    )
    started = time.monotonic()
    hung = asyncio.create_task(sender.deliver("hung", 0, MESSAGE))
    await asyncio.sleep(0.2)  # the hung send is under way

    assert await sender.deliver("ops", 0, MESSAGE) is Outcome.SENT
    healthy_after = time.monotonic() - started
    assert await hung is Outcome.FAILED
    hung_after = time.monotonic() - started

    assert healthy_after < 1.5, f"the healthy URL waited {healthy_after:.1f}s"
    assert 1.4 < hung_after < 5, f"the hung send was abandoned after {hung_after:.1f}s"
    sends = [t for t in threading.enumerate() if t.name.startswith("notify hung[0]")]
    assert sends
    assert all(t.daemon for t in sends)  # left behind, never joined at exit


def test_the_read_timeout_is_raised_unless_the_url_sets_its_own() -> None:
    """Apprise's 4 s read timeout counted a webhook answering in 5 s as failed: it got the
    same alert again and again."""
    urls = {"a": "json://127.0.0.1:9/a", "b": "json://127.0.0.1:9/b?rto=2.5"}
    timeouts = {
        name: [p.socket_read_timeout for p in apprise_target(url)] for name, url in urls.items()
    }
    assert timeouts == {"a": [READ_TIMEOUT_S], "b": [2.5]}


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        pytest.param(RetryPolicy(), [1, 2, 4, 8, 16], id="default: 6 attempts"),
        pytest.param(RetryPolicy(attempts=3), [1, 2], id="3 attempts"),
        pytest.param(RetryPolicy(attempts=1), [], id="1 attempt: no retry"),
        pytest.param(RetryPolicy(attempts=0), [], id="0 attempts: no retry"),
        pytest.param(
            RetryPolicy(attempts=10, first_delay=1, max_delay=30),
            [1, 2, 4, 8, 16, 30, 30, 30, 30],
            id="capped at max_delay",
        ),
        pytest.param(
            RetryPolicy(attempts=4, first_delay=0.5, max_delay=60), [0.5, 1, 2], id="half second"
        ),
        pytest.param(
            RetryPolicy(attempts=4, first_delay=10, max_delay=5), [5, 5, 5], id="cap below first"
        ),
    ],
)
def test_retry_delays(policy: RetryPolicy, delays: list[float]) -> None:
    assert policy.delays() == delays


def test_backoff_is_jittered_between_half_and_the_whole_step() -> None:
    policy, rng = RetryPolicy(max_delay=60), random.Random(7)
    for failures, step in [(1, 1.0), (3, 4.0), (7, 60.0), (500, 60.0)]:
        drawn = [policy.backoff(failures, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in drawn)
        assert max(drawn) - min(drawn) > step / 4  # spread, not one value


def test_sends_through_one_url_are_spaced_at_most_a_second() -> None:
    """Apprise's default 5.5 s spacing held five simultaneous email alerts back for 22 s."""

    url = "mailto://user:pass@127.0.0.1:8025?from=a@example.com&to=ops@example.com&mode=insecure"
    plugins = list(apprise_target(url))
    assert [type(p).__name__ for p in plugins] == ["NotifyEmail"]
    assert plugins[0].request_rate_per_sec <= 1.0
