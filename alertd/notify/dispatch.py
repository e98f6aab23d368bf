"""Delivery through Apprise: one Apprise object and one isolated lane per notifier URL.

One object per URL so that a notifier with a working mailbox and a broken webhook is
retried only where it failed, and the state records each URL as sent on its own. One lane
per URL (`alertd.notify.lane`) so that a slow, hung or failing URL delays only itself: each
has its own worker, queue, backoff and threads; Apprise's shared thread pool is never used
(`async_mode=False`, no service timeout: `Apprise.notify` runs in the lane's own thread).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import apprise
from apprise.url import URLBase

from alertd.config.model import NotifierConfig
from alertd.core.render import Message
from alertd.notify.lane import Lane, Outcome
from alertd.notify.urls import fingerprint

__all__ = ["Dispatcher", "Outcome", "RetryPolicy", "apprise_target"]

MIN_SPACING_S = 1.0
# Apprise gives up reading an answer after 4 s: a webhook answering in 5 s got the same alert
# up to 12 times. 15 s unless the URL sets its own `rto=`.
READ_TIMEOUT_S = 15.0
ATTEMPT_DEADLINE_S = 30.0  # one send, all retries of Apprise's own included, then abandoned
MAX_QUEUED = 2000  # messages waiting per URL (one per provider, check and notifier)
MAX_HUNG = 2  # abandoned sends still running per URL before the URL waits for them


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Steps 1, 2, 4, 8 … capped at `max_delay`, each with equal jitter (half of the step fixed,
    half random) so retries do not arrive in lockstep; `attempts` counts a message's first try.
    The step grows with the URL's consecutive failures, not with one message's."""

    attempts: int = 6
    first_delay: float = 1.0
    max_delay: float = 30.0

    def step(self, failures: int) -> float:
        """The ceiling of the delay after `failures` consecutive failures (1: the first)."""
        exponent = min(max(failures - 1, 0), 32)
        return float(min(self.first_delay * 2**exponent, self.max_delay))

    def delays(self) -> list[float]:
        """The ceilings one message meets when every one of its attempts fails."""
        return [self.step(n) for n in range(1, max(self.attempts, 1))]

    def backoff(self, failures: int, rng: random.Random) -> float:
        step = self.step(failures)
        return step / 2 + rng.uniform(0, step / 2)


def _asset() -> apprise.AppriseAsset:
    return apprise.AppriseAsset(
        app_id="alertd",
        app_desc="alertd balance alerts",
        async_mode=False,  # never Apprise's shared pool: the lane's thread sends
        service_timeout=0,  # the lane's deadline bounds a send, in the lane's thread
    )


def apprise_target(url: str, asset: apprise.AppriseAsset | None = None) -> apprise.Apprise:
    """The Apprise object one notifier URL is sent through (its plugins, tuned for alertd:
    spacing and read timeout); the dispatcher makes one per URL."""
    target = apprise.Apprise(asset=asset or _asset())
    target.add(url)
    for plugin in target:
        # Apprise spaces sends through one object 5.5 s apart (for email): five alerts at
        # once took 22 s to go out. A second is polite enough.
        plugin.request_rate_per_sec = min(plugin.request_rate_per_sec, MIN_SPACING_S)
        if plugin.socket_read_timeout == URLBase.socket_read_timeout:
            plugin.socket_read_timeout = READ_TIMEOUT_S
    return target


def _sender(target: apprise.Apprise) -> Callable[[Message], bool]:
    def send(message: Message) -> bool:
        result = target.notify(
            body=message.body,
            title=message.title,
            notify_type=message.notify_type,
            body_format=apprise.NotifyFormat.TEXT,
        )
        return bool(result)

    return send


class Dispatcher:
    def __init__(
        self,
        notifiers: Mapping[str, NotifierConfig],
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        deadline: float = ATTEMPT_DEADLINE_S,
        max_queued: int = MAX_QUEUED,
        previous: Dispatcher | None = None,
    ) -> None:
        """`previous`: the dispatcher a reload replaces. A URL it already had keeps its lane
        (its queue, its backoff, its send under way), so a reload neither hits a failing
        webhook afresh nor gives one URL two lanes sending at once."""
        self.retry = retry or RetryPolicy()
        asset = _asset()
        rng = rng or random.Random()
        self._lanes: dict[tuple[str, int], Lane] = {}
        self._urls: dict[tuple[str, int], str] = {}
        for name, notifier in notifiers.items():
            for index, url in enumerate(notifier.urls):
                text = url.get_secret_value()
                self._urls[(name, index)] = text
                kept = previous._lane_for(name, index, text) if previous else None
                if kept is not None:
                    self._lanes[(name, index)] = kept
                    continue
                self._lanes[(name, index)] = Lane(
                    f"{name}[{index}] {fingerprint(text)}",
                    _sender(apprise_target(text, asset)),
                    self.retry,
                    deadline=deadline,
                    max_queued=max_queued,
                    max_hung=MAX_HUNG,
                    sleep=sleep,
                    rng=rng,
                )

    def _lane_for(self, notifier: str, index: int, url: str) -> Lane | None:
        """This dispatcher's lane for the same URL under the same name and position."""
        return (
            self._lanes.get((notifier, index)) if self._urls.get((notifier, index)) == url else None
        )

    def urls_of(self, notifier: str) -> list[int]:
        return sorted(index for name, index in self._lanes if name == notifier)

    def lane(self, notifier: str, index: int) -> Lane | None:
        return self._lanes.get((notifier, index))

    async def send_once(self, notifier: str, index: int, message: Message) -> bool:
        """One attempt, now, bounded by the deadline (notify-test): no queue, no retry."""
        lane = self._lanes.get((notifier, index))
        return lane is not None and await lane.attempt(message)

    async def deliver(
        self,
        notifier: str,
        index: int,
        message: Message,
        on_failure: Callable[[], None] = lambda: None,
        key: Hashable = None,
        **context: Any,
    ) -> Outcome:
        """Queues the message on its URL's lane and waits for its outcome. `key` names what
        it is about (a newer message with the same key replaces it while it waits); `context`
        (provider, check, title) goes into the retry log lines."""
        lane = self._lanes.get((notifier, index))
        if lane is None:
            on_failure()
            return Outcome.FAILED
        return await lane.submit(
            (notifier, index, key), message, on_failure, notifier=notifier, **context
        )

    def close(self) -> None:
        """alertd stops: nothing new is sent; waiting messages return ABANDONED at once."""
        for lane in self._lanes.values():
            lane.close()
