"""Dispatcher against a real webhook receiver on 127.0.0.1, through Apprise `json://` URLs.

The receiver answers each path from a script of status codes (then 200) and keeps every
JSON payload it was sent. Backoff goes through an injected fake sleep that only records
the delays, so nothing here waits.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alertd.config.model import NotifierConfig
from alertd.core.render import Message
from alertd.notify.dispatch import Dispatcher, RetryPolicy

MESSAGE = Message(
    title="[CRITICAL] browser7-prod: balance $4.50 (450 renders) fell below critical threshold",
    body="Provider: browser7-prod (browser7)\nBalance: $4.50 (450 renders)",
    notify_type="failure",
)


class Receiver:
    """A webhook endpoint: `script(path, 500, 500)` makes the next two POSTs there fail."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, list[int]] = {}
        self._received: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    receiver._received.append((self.path, payload))
                    script = receiver._scripts.get(self.path, [])
                    status = script.pop(0) if script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"json://{host}:{port}{path}"

    def script(self, path: str, *statuses: int) -> None:
        with self._lock:
            self._scripts[path] = list(statuses)

    def received(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for seen, payload in self._received if seen == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = Receiver()
    yield server
    server.close()


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Failures:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def dispatcher(notifiers: dict[str, list[str]], sleep: FakeSleep, attempts: int = 6) -> Dispatcher:
    configs = {name: NotifierConfig.model_validate(urls) for name, urls in notifiers.items()}
    return Dispatcher(configs, RetryPolicy(attempts=attempts), sleep=sleep)


def as_sent(message: Message) -> dict[str, Any]:
    """What Apprise's json:// POSTs for a message."""
    return {
        "version": "1.0",
        "title": message.title,
        "message": message.body,
        "attachments": [],
        "type": message.notify_type,
    }


async def test_delivered_on_the_first_try(receiver: Receiver) -> None:
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [receiver.url("/ops")]}, sleep)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is True

    assert receiver.received("/ops") == [as_sent(MESSAGE)]
    assert (sleep.delays, failures.count) == ([], 0)


async def test_two_server_errors_then_delivered_on_the_third_attempt(receiver: Receiver) -> None:
    receiver.script("/ops", 500, 500)
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [receiver.url("/ops")]}, sleep)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is True

    assert receiver.received("/ops") == [as_sent(MESSAGE)] * 3
    assert sleep.delays == [1.0, 2.0]
    assert failures.count == 2


async def test_every_attempt_failing_returns_false(receiver: Receiver) -> None:
    receiver.script("/ops", *[503] * 10)
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [receiver.url("/ops")]}, sleep, attempts=4)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is False

    assert len(receiver.received("/ops")) == 4
    assert failures.count == 4  # one per failed attempt, the last one included
    assert sleep.delays == [1.0, 2.0, 4.0]  # no wait after the last attempt


async def test_only_the_failing_url_of_a_notifier_is_retried(receiver: Receiver) -> None:
    receiver.script("/flaky", 500)
    sleep = FakeSleep()
    sender = dispatcher({"team": [receiver.url("/good"), receiver.url("/flaky")]}, sleep)
    assert sender.urls_of("team") == [0, 1]

    results = [await sender.deliver("team", index, MESSAGE) for index in (0, 1)]

    assert results == [True, True]
    assert receiver.received("/good") == [as_sent(MESSAGE)]
    assert len(receiver.received("/flaky")) == 2
    assert sleep.delays == [1.0]


async def test_a_refused_connection_fails_every_attempt() -> None:
    with socket.socket() as probe:  # a port that nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({"ops": [f"json://127.0.0.1:{port}/ops"]}, sleep, attempts=2)

    assert await sender.deliver("ops", 0, MESSAGE, on_failure=failures) is False
    assert (failures.count, sleep.delays) == (2, [1.0])


async def test_an_unknown_notifier_is_not_delivered() -> None:
    sleep, failures = FakeSleep(), Failures()
    sender = dispatcher({}, sleep, attempts=2)
    assert await sender.deliver("nobody", 0, MESSAGE, on_failure=failures) is False
    assert failures.count == 2


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


def test_sends_through_one_url_are_spaced_at_most_a_second() -> None:
    """Apprise's default 5.5 s spacing held five simultaneous email alerts back for 22 s."""

    url = "mailto://user:pass@127.0.0.1:8025?from=a@example.com&to=ops@example.com&mode=insecure"
    dispatcher = Dispatcher({"mail": NotifierConfig(urls=[url])})
    plugins = [plugin for target in dispatcher._targets.values() for plugin in target]
    assert [type(p).__name__ for p in plugins] == ["NotifyEmail"]
    assert plugins[0].request_rate_per_sec <= 1.0
