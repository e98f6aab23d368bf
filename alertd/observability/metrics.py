"""Prometheus metrics (prometheus-client), fed by the engine's poll and delivery observers.

Histograms are labelled by provider *type* and notifier, not provider name, so that a
thousand providers do not become a thousand times the bucket series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from alertd.core.model import Poll
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

    def on_delivery(self, notifier: str, reason: str, ok: bool, seconds: float) -> None:
        self.notifications.labels(notifier, reason, "sent" if ok else "failed").inc()
        self.notification_duration.labels(notifier).observe(seconds)

    def forget(self, provider: str) -> None:
        """Drops a removed provider's series so that /metrics stops showing it."""
        for metric, labels in self._series.pop(provider, set()):
            metric.remove(*labels)

    def render(self) -> bytes:
        return generate_latest(self.registry)
