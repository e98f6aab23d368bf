"""One notifier URL's own delivery lane: its queue, its worker, its backoff, its threads.

Why: Apprise's shared thread pool let one hung webhook hold up every other notifier (issue 8:
an on-call webhook got 0 of 1,000 critical alerts in 120 s). Here each URL has a lane:

- one send at a time, in a daemon thread of its own running the blocking `Apprise.notify`;
  the lane stops waiting after `deadline` (the thread is abandoned: a daemon thread never
  delays the process's exit), and at most `max_hung` abandoned threads per URL are tolerated
  before the lane stops starting new ones until they end;
- backoff per URL, not per message: after a failure every message of the URL waits for the
  next attempt, so a webhook answering 500 is tried once per backoff step, whatever the queue;
- a bounded queue: one message per key (provider, check, destination), a newer one replacing
  a queued older one; past `max_queued` the oldest is dropped (the caller logs and counts it;
  the alert is not recorded as sent, so the next poll decides again).
"""

from __future__ import annotations

import asyncio
import enum
import random
import threading
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

from alertd.core.render import Message
from alertd.observability.logging import get_logger
from alertd.threads import in_daemon_thread


class Outcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"  # every attempt failed
    SUPERSEDED = "superseded"  # a newer message with the same key took its place
    DROPPED = "dropped"  # the URL's queue was full
    ABANDONED = "abandoned"  # alertd is stopping


class Backoff(Protocol):
    @property
    def attempts(self) -> int: ...

    def backoff(self, failures: int, rng: random.Random) -> float: ...


@dataclass(eq=False)
class _Entry:
    key: Hashable
    message: Message
    on_failure: Callable[[], None]
    done: asyncio.Future[Outcome]
    attempts: int = 0
    context: dict[str, object] = field(default_factory=dict)


class Lane:
    """The deliveries of one URL; `send` blocks (so it runs in a thread) and says if it went out."""

    def __init__(
        self,
        label: str,
        send: Callable[[Message], bool],
        policy: Backoff,
        *,
        deadline: float,
        max_queued: int,
        max_hung: int,
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
    ) -> None:
        self.label = label
        self._send = send
        self.policy = policy
        self.deadline = deadline
        self.max_queued = max_queued
        self.max_hung = max_hung
        self._sleep = sleep
        self._rng = rng
        self._queue: dict[Hashable, _Entry] = {}  # waiting, oldest first
        self._current: _Entry | None = None
        self._worker: asyncio.Task[None] | None = None
        self._hung: set[threading.Thread] = set()
        self._resume_at = 0.0  # loop time before which this URL is not tried again
        self.failures = 0  # consecutive failed attempts of this URL
        self.dropped = 0
        self.closed = False
        self.log = get_logger(url=label)

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def submit(
        self,
        key: Hashable,
        message: Message,
        on_failure: Callable[[], None] = lambda: None,
        **context: object,
    ) -> Outcome:
        """Queues the message and waits for its outcome; cancelling the caller unqueues it."""
        if self.closed:
            return Outcome.ABANDONED
        entry = _Entry(key, message, on_failure, asyncio.get_running_loop().create_future())
        entry.context = dict(context)
        older = self._queue.get(key)
        if older is not None:
            _resolve(older, Outcome.SUPERSEDED)
        elif len(self._queue) >= self.max_queued:
            oldest = next(iter(self._queue.values()))
            del self._queue[oldest.key]
            self.dropped += 1
            _resolve(oldest, Outcome.DROPPED)
        self._queue[key] = entry  # a replaced key keeps its place in line
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name=f"notify {self.label}")
        try:
            return await entry.done
        finally:
            if self._queue.get(key) is entry:
                del self._queue[key]

    def close(self) -> None:
        """alertd stops: waiting messages return ABANDONED at once; a send under way may finish."""
        self.closed = True
        for entry in list(self._queue.values()):
            _resolve(entry, Outcome.ABANDONED)
        self._queue.clear()
        if self._worker is not None and self._current is None:
            self._worker.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue and not self.closed:
            wait = self._resume_at - loop.time()
            if wait > 0:
                await self._sleep(wait)  # the URL's backoff holds every message it has
                if not self._queue or self.closed:
                    break
            entry = self._queue.pop(next(iter(self._queue)))
            self._current = entry
            try:
                ok = await self.attempt(entry.message)
            finally:
                self._current = None
            entry.attempts += 1
            if ok:
                self.failures, self._resume_at = 0, 0.0
                _resolve(entry, Outcome.SENT)
                continue
            self.failures += 1
            entry.on_failure()
            delay = self.policy.backoff(self.failures, self._rng)
            self._resume_at = loop.time() + delay
            last = entry.attempts >= self.policy.attempts
            if not entry.done.done():
                self.log.warning(
                    "notification_attempt_failed",
                    attempt=entry.attempts,
                    retry_in_s=None if last else round(delay, 2),
                    url_failures=self.failures,
                    queued=len(self._queue),
                    **entry.context,
                )
            if last:
                _resolve(entry, Outcome.FAILED)
            elif not entry.done.done() and entry.key not in self._queue and not self.closed:
                self._queue = {entry.key: entry, **self._queue}  # retried first
            elif entry.key in self._queue:
                _resolve(entry, Outcome.SUPERSEDED)
            else:
                _resolve(entry, Outcome.ABANDONED)

    async def attempt(self, message: Message) -> bool:
        """One send in a daemon thread, waited for at most `deadline` seconds."""
        self._hung = {thread for thread in self._hung if thread.is_alive()}
        if len(self._hung) >= self.max_hung:
            self.log.warning(
                "notification_attempt_skipped",
                why="earlier sends to this URL are still hung",
                hung=len(self._hung),
            )
            return False
        result, thread = in_daemon_thread(self._send_safely, message, name=f"notify {self.label}")
        try:
            return await asyncio.wait_for(asyncio.shield(result), self.deadline)
        except TimeoutError:
            self._hung.add(thread)
            self.log.warning("notification_attempt_abandoned", after_s=self.deadline)
            return False

    def _send_safely(self, message: Message) -> bool:
        try:
            return self._send(message)
        except Exception as exc:  # a plugin's bug is a failed attempt, not a dead lane
            self.log.error("notification_send_crashed", error=type(exc).__name__)
            return False


def _resolve(entry: _Entry, outcome: Outcome) -> None:
    if not entry.done.done():
        entry.done.set_result(outcome)
