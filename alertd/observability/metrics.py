"""Prometheus metrics (prometheus-client), fed by the engine's poll and delivery observers.

Histograms are labelled by provider *type* and notifier, not provider name, so that a
thousand providers do not become a thousand times the bucket series.

`/metrics` is served from `SharedRender`: at a thousand providers one render is ~465 KB and
tens of milliseconds of CPU, and twenty scrapers rendering on the event loop starved
polling into false timeouts (issue 8). Now many scrapers share one render per second, made
in a worker thread.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from alertd.core.forecast import Forecast, Outlook
from alertd.core.model import Poll
from alertd.core.series import Event
from alertd.core.state import CheckState


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.balance = Gauge(
            "alertd_balance",
            "Last balance read, in the provider's unit",
            ["provider", "type", "unit"],
            registry=r,
        )
        self.severity = Gauge(
            "alertd_check_severity",
            "Severity per check: 0 ok, 1 warning, 2 critical",
            ["provider", "check"],
            registry=r,
        )
        self.last_success = Gauge(
            "alertd_last_success_timestamp_seconds",
            "Unix time of the last successful poll",
            ["provider"],
            registry=r,
        )
        self.polls = Counter(
            "alertd_polls", "Polls by outcome", ["provider", "outcome"], registry=r
        )
        self.poll_duration = Histogram(
            "alertd_poll_duration_seconds",
            "Time of one poll",
            ["type"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.notifications = Counter(
            "alertd_notifications",
            "Notifications by outcome (sent, failed)",
            ["notifier", "reason", "outcome"],
            registry=r,
        )
        self.notification_duration = Histogram(
            "alertd_notification_duration_seconds",
            "Time from the first delivery attempt to success or giving up",
            ["notifier"],
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.burn_rate = Gauge(
            "alertd_burn_rate",
            "Spending per day in the provider's unit (the faster of the burn window and its"
            " last seventh); absent while there is not enough history",
            ["provider", "unit"],
            registry=r,
        )
        self.runway = Gauge(
            "alertd_runway_seconds",
            "Time until the balance is forecast to run out: +Inf when not burning or when a"
            " quota lasts until its reset, 0 when used up; absent while there is not enough"
            " history",
            ["provider"],
            registry=r,
        )
        self.topups = Counter(
            "alertd_topups",
            "Rises of the balance recorded as top-ups or quota resets",
            ["provider", "kind"],
            registry=r,
        )
        self.scheduler_running = Gauge(
            "alertd_scheduler_running", "1 while the scheduler runs", registry=r
        )
        self.providers = Gauge("alertd_providers", "Providers configured", registry=r)
        # The label sets written per provider, so a removed provider's series can be dropped
        # (prometheus-client has no public way to list a metric's children).
        self._series: dict[str, set[tuple[Gauge | Counter, tuple[str, ...]]]] = {}

    def _labelled(self, metric: Gauge | Counter, provider: str, *rest: str) -> Any:
        self._series.setdefault(provider, set()).add((metric, (provider, *rest)))
        return metric.labels(provider, *rest)

    def on_poll(
        self, provider: str, provider_type: str, result: Poll, checks: Mapping[str, CheckState]
    ) -> None:
        outcome = "ok" if result.reading is not None else "error"
        self._labelled(self.polls, provider, outcome).inc()
        self.poll_duration.labels(provider_type).observe(result.duration)
        if result.reading is not None:
            reading = result.reading
            balance = self._labelled(self.balance, provider, provider_type, reading.unit)
            balance.set(float(reading.amount))
            self._labelled(self.last_success, provider).set(result.checked_at.timestamp())
        for check, state in checks.items():
            self._labelled(self.severity, provider, check).set(int(state.severity))

    def on_forecast(
        self, provider: str, forecast: Forecast | None, events: Iterable[Event] = ()
    ) -> None:
        for event in events:
            self._labelled(self.topups, provider, event.kind.value).inc()
        if forecast is None or forecast.rate is None:
            self._drop(provider, self.burn_rate, self.runway)
            return
        self._drop(provider, self.burn_rate)  # the unit may have changed
        self._labelled(self.burn_rate, provider, forecast.unit).set(float(forecast.rate))
        runway = (
            math.inf
            if forecast.runway is None or forecast.outlook is Outlook.LASTS_UNTIL_RESET
            else forecast.runway.total_seconds()
        )
        self._labelled(self.runway, provider).set(runway)

    def _drop(self, provider: str, *metrics: Gauge | Counter) -> None:
        series = self._series.get(provider, set())
        for metric, labels in [entry for entry in series if entry[0] in metrics]:
            metric.remove(*labels)
            series.discard((metric, labels))

    def on_delivery(self, notifier: str, reason: str, ok: bool, seconds: float) -> None:
        self.notifications.labels(notifier, reason, "sent" if ok else "failed").inc()
        self.notification_duration.labels(notifier).observe(seconds)

    def forget(self, provider: str) -> None:
        """Drops a removed provider's series so that /metrics stops showing it."""
        for metric, labels in self._series.pop(provider, set()):
            metric.remove(*labels)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class SharedRender:
    """`render()` at most once per `max_age` seconds, in a worker thread; callers arriving
    while one is under way wait for it instead of starting their own."""

    def __init__(
        self,
        render: Callable[[], bytes],
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._render = render
        self._max_age = max_age
        self._clock = clock
        self._body: bytes | None = None
        self._at = 0.0
        self._pending: asyncio.Future[bytes] | None = None
        self.renders = 0

    async def get(self) -> bytes:
        if self._body is not None and self._clock() - self._at < self._max_age:
            return self._body
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._pending)

    async def _refresh(self) -> bytes:
        try:
            started = self._clock()
            body = await asyncio.to_thread(self._render)
            self.renders += 1
            self._body, self._at = body, started
            return body
        finally:
            self._pending = None
