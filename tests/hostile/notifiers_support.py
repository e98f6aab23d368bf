"""Hostile notifiers on 127.0.0.1: a server that accepts and never answers (a hung webhook or
SMTP server), and a webhook that times every POST and can answer late or with 500."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.receivers import WebhookReceiver


class SilentServer:
    """Accepts every connection and never sends a byte: an SMTP client waits for its greeting,
    an HTTP client for its answer. `connections` counts the accepted ones."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with self._lock:
                self._held.append(conn)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for conn in self._held:
                conn.close()
        self._sock.close()


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer().start()
    try:
        yield server
    finally:
        server.stop()


class TimedWebhook(WebhookReceiver):
    """A webhook recording when each POST arrived (`arrivals`, monotonic), answering after
    `answer_after` seconds; `go_down()` makes it answer 500 (every POST is still counted)."""

    def __init__(self, path: str = "/hook", answer_after: float = 0.0) -> None:
        super().__init__(path)
        self.answer_after = answer_after
        self._arrivals: list[float] = []

    def _record(self, body: dict[str, Any]) -> int:
        with self._lock:
            self._arrivals.append(time.monotonic())
        if self.answer_after:
            time.sleep(self.answer_after)
        return super()._record(body)

    @property
    def arrivals(self) -> list[float]:
        with self._lock:
            return list(self._arrivals)

    def posts_between(self, start: float, end: float) -> int:
        return sum(start <= t < end for t in self.arrivals)


@contextmanager
def timed_webhook(path: str = "/hook", answer_after: float = 0.0) -> Iterator[TimedWebhook]:
    receiver = TimedWebhook(path, answer_after)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
