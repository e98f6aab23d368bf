"""Delivery through Apprise, one Apprise object per URL, retried with exponential backoff.

One object per URL so that a notifier with a working mailbox and a broken webhook is
retried only where it failed, and the state records each URL as sent on its own.
`async_notify` runs the blocking sends in Apprise's thread pool: the event loop (and so
every provider's polling) never waits for a slow SMTP server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import apprise

from alertd.config.model import NotifierConfig
from alertd.core.render import Message
from alertd.observability.logging import get_logger

MIN_SPACING_S = 1.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays 1, 2, 4, 8 … capped at `max_delay`; `attempts` counts the first try."""

    attempts: int = 6
    first_delay: float = 1.0
    max_delay: float = 60.0

    def delays(self) -> list[float]:
        return [
            min(self.first_delay * 2**n, self.max_delay) for n in range(max(self.attempts - 1, 0))
        ]


class Dispatcher:
    def __init__(
        self,
        notifiers: Mapping[str, NotifierConfig],
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        asset = apprise.AppriseAsset(app_id="alertd", app_desc="alertd balance alerts")
        self._targets: dict[tuple[str, int], apprise.Apprise] = {}
        for name, notifier in notifiers.items():
            for index, url in enumerate(notifier.urls):
                target = apprise.Apprise(asset=asset)
                target.add(url.get_secret_value())
                for plugin in target:
                    # Apprise spaces sends through one object 5.5 s apart (for email): five
                    # alerts at once took 22 s to go out. A second is polite enough.
                    plugin.request_rate_per_sec = min(plugin.request_rate_per_sec, MIN_SPACING_S)
                self._targets[(name, index)] = target

    def urls_of(self, notifier: str) -> list[int]:
        return sorted(index for name, index in self._targets if name == notifier)

    async def send_once(self, notifier: str, index: int, message: Message) -> bool:
        target = self._targets.get((notifier, index))
        if target is None:
            return False
        result = await target.async_notify(
            body=message.body,
            title=message.title,
            notify_type=message.notify_type,
            body_format=apprise.NotifyFormat.TEXT,
        )
        return bool(result)

    async def deliver(
        self,
        notifier: str,
        index: int,
        message: Message,
        on_failure: Callable[[], None] = lambda: None,
        **context: Any,
    ) -> bool:
        """True once the message went out; False after the last attempt failed.
        `context` (provider, check, title) goes into the retry log lines."""
        log = get_logger(notifier=notifier, url_index=index, **context)
        delays = self.retry.delays()
        for attempt in range(1, len(delays) + 2):
            if await self.send_once(notifier, index, message):
                return True
            on_failure()
            if attempt > len(delays):
                break
            delay = delays[attempt - 1]
            log.warning("notification_attempt_failed", attempt=attempt, retry_in_s=delay)
            await self._sleep(delay)
        return False
