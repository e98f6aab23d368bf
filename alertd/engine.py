"""One poll, end to end: fetch → evaluate → step → notify → persist. The IO around the core.

Deliveries run as their own tasks, each queued on its notifier URL's own lane (see
`alertd.notify.lane`), so a slow or failing notifier never holds up polling or another URL.
A delivery updates the notification log only after it went out; one that gives up leaves
the log as it was, so the next poll decides again: an alert is never silently dropped.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alertd.cycle import Destination, Planned, advance, destinations, plan, policy_of
from alertd.errors import RateLimitedError
from alertd.evaluate import BALANCE, Finding
from alertd.http import HttpClient
from alertd.loader import Settings
from alertd.model import Reading, Severity
from alertd.notify.dispatch import Dispatcher, Outcome
from alertd.notify.render import Alert, Message, render
from alertd.observability.logging import get_logger
from alertd.poll import PollResult, poll
from alertd.state import CheckState, record_sent

DeliveryKey = tuple[str, str, str]  # provider, check, destination key


@dataclass(frozen=True, slots=True)
class _InFlight:
    task: asyncio.Task[None]
    severity: Severity


class Engine:
    def __init__(
        self,
        settings: Settings,
        client: HttpClient,
        dispatcher: Dispatcher,
        clock: Callable[[], datetime],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.dispatcher = dispatcher
        self.clock = clock
        self.on_change = on_change
        self.checks: dict[str, dict[str, CheckState]] = {}
        self.readings: dict[str, Reading] = {}
        self.findings: dict[str, dict[str, Finding]] = {}
        self.last_poll: dict[str, PollResult] = {}
        self.not_before: dict[str, datetime] = {}
        self.counters: Counter[str] = Counter()
        self._inflight: dict[DeliveryKey, _InFlight] = {}
        self.observers: list[Callable[[str, PollResult, dict[str, CheckState]], None]] = []
        self.delivery_observers: list[Callable[[str, str, str, bool, float], None]] = []
        self._loggers: dict[str, Any] = {}
        self._routes: dict[str, list[Destination]] = {}  # derived from settings, per provider

    def reconfigure(self, settings: Settings, dispatcher: Dispatcher) -> None:
        """A reload: new providers, notifiers, routes; deliveries under way finish as they were."""
        self.settings = settings
        self.dispatcher = dispatcher
        self._routes.clear()

    def _log(self, provider: str) -> Any:
        """One bound logger per provider, built once: binding on every poll showed in profiles."""
        log = self._loggers.get(provider)
        if log is None:
            log = self._loggers[provider] = get_logger(provider=provider)
        return log

    # -- polling ------------------------------------------------------------------------------
    async def poll_provider(self, name: str) -> None:
        provider = self.settings.providers.get(name)
        if provider is None:
            return
        now = self.clock()
        until = self.not_before.get(name)
        if until is not None and now < until:
            # A deferred poll is a failed check: a provider asking for a long wait reaches
            # "cannot check" after failure_threshold polls instead of silencing the check.
            error = RateLimitedError(
                f"rate limited, next try at {until:%Y-%m-%d %H:%M:%S} UTC", None
            )
            self._apply(name, PollResult(name, now, 0.0, error=error))
            return
        result = await poll(provider, self.client, self.clock)
        self._apply(name, result)

    def _apply(self, name: str, result: PollResult) -> None:
        log = self._log(name)
        cfg = self.settings.config.providers.get(name)
        if cfg is None:
            log.info("poll_discarded", why="provider removed by a reload while it was polled")
            return
        error = result.error
        if isinstance(error, RateLimitedError) and error.retry_after:
            # capped at the failure threshold's time: the check is tried again by then
            longest = (cfg.interval * cfg.failure_threshold).total_seconds()
            wait = timedelta(seconds=min(error.retry_after, longest))
            self.not_before[name] = result.checked_at + wait
        previous = self.checks.get(name, {})
        checks, findings = advance(previous, result.reading, error, cfg, result.checked_at)
        self.checks[name] = checks
        self.last_poll[name] = result
        if result.reading is not None:
            self.readings[name] = result.reading
            self.findings[name] = findings
        self.counters["polls_ok" if result.reading else "polls_failed"] += 1
        worst = max(state.severity for state in checks.values())
        if result.reading is not None:
            log.info(
                "poll",
                duration_ms=round(result.duration * 1000, 1),
                balance=str(result.reading.amount),
                unit=result.reading.unit,
                severity=worst.label,
            )
        else:
            log.warning(
                "poll_failed",
                duration_ms=round(result.duration * 1000, 1),
                error=error.reason if error else "unknown",
                failures=checks["fetch"].failures,
                severity=worst.label,
            )
        for observer in self.observers:
            observer(name, result, checks)
        routes = self._routes.get(name)
        if routes is None:
            routes = self._routes[name] = destinations(self.settings.config, name)
        due = plan(checks, routes, policy_of(cfg), result.checked_at, result.reading is not None)
        for planned in due:
            self._act(name, planned, result.checked_at)
        if previous != checks:
            self.on_change()

    # -- notifying ------------------------------------------------------------------------------
    def _act(self, provider: str, planned: Planned, now: datetime) -> None:
        key = (provider, planned.check, planned.destination.key)
        decision = planned.decision
        if not decision.deliver:
            self._record(key, decision.severity, now)
            self._log(provider).info(
                "notification_skipped",
                check=planned.check,
                reason=decision.reason.value,
                why="notify_resolved is off",
                notifier=planned.destination.notifier,
            )
            return
        running = self._inflight.get(key)
        if running is not None:
            if running.severity == decision.severity:
                return  # the same news is already being delivered (and retried)
            running.task.cancel()
        message = render(self._alert(provider, planned, now))
        task = asyncio.create_task(self._deliver(key, planned, message))
        self._inflight[key] = _InFlight(task, decision.severity)

    def _alert(self, provider: str, planned: Planned, now: datetime) -> Alert:
        state = self.checks[provider][planned.check]
        finding = self.findings.get(provider, {}).get(planned.check)
        sent = state.sent.get(planned.destination.key)
        return Alert(
            provider=provider,
            provider_type=self.settings.config.providers[provider].type,
            check=planned.check,
            reason=planned.decision.reason,
            severity=planned.decision.severity,
            previous=sent.severity if sent else Severity.OK,
            detail=state.detail,
            now=now,
            reading=self.readings.get(provider),
            threshold=finding.threshold if finding and planned.check == BALANCE else None,
            failures=state.failures,
            since=state.since,
        )

    async def _deliver(self, key: DeliveryKey, planned: Planned, message: Message) -> None:
        provider, check, _ = key
        route = planned.destination
        log = self._log(provider)
        started = asyncio.get_running_loop().time()
        try:
            outcome = await self.dispatcher.deliver(
                route.notifier,
                route.url_index,
                message,
                on_failure=lambda: self.counters.update(["notifications_failed_attempts"]),
                key=(provider, check),
                provider=provider,
                check=check,
                title=message.title,
            )
        finally:
            current = self._inflight.get(key)
            if current is not None and current.task is asyncio.current_task():
                del self._inflight[key]
        elapsed = asyncio.get_running_loop().time() - started
        fields = {
            "check": check,
            "reason": planned.decision.reason.value,
            "severity": planned.decision.severity.label,
            "notifier": route.notifier,
            "url_index": route.url_index,
            "title": message.title,
        }
        ok = outcome is Outcome.SENT
        if outcome in (Outcome.SENT, Outcome.FAILED, Outcome.DROPPED):
            for observer in self.delivery_observers:
                observer(provider, route.notifier, planned.decision.reason.value, ok, elapsed)
        if ok:
            self.counters["notifications_sent"] += 1
            self._record(key, planned.decision.severity, self.clock())
            log.info("notification_sent", **fields)
        elif outcome is Outcome.FAILED:
            self.counters["notifications_failed"] += 1
            log.error("notification_failed", attempts=self.dispatcher.retry.attempts, **fields)
        elif outcome is Outcome.DROPPED:  # not recorded as sent: the next poll decides again
            self.counters["notifications_dropped"] += 1
            log.warning("notification_dropped", why="this notifier URL's queue is full", **fields)
        else:  # superseded by newer news, or alertd stopping: decided again later
            log.info("notification_not_sent", why=outcome.value, **fields)

    def _record(self, key: DeliveryKey, severity: Severity, at: datetime) -> None:
        provider, check, destination = key
        state = self.checks.get(provider, {}).get(check)
        if state is None:
            return  # the provider was removed by a reload meanwhile
        self.checks[provider][check] = record_sent(state, destination, severity, at)
        self.on_change()

    # -- lifecycle ------------------------------------------------------------------------------
    def pending_deliveries(self) -> list[asyncio.Task[None]]:
        return [flight.task for flight in self._inflight.values()]

    def drop(self, name: str) -> None:
        """Forgets a provider's state: removed by a reload, or now watching another account."""
        for store in (self.checks, self.readings, self.findings, self.last_poll, self.not_before):
            store.pop(name, None)
        self._loggers.pop(name, None)
