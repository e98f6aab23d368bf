"""One poll, end to end: fetch → `step` → deliver → record. Only IO here; the decisions
are the core's (`alertd.core.step`).

What a poll or a delivery changed goes to the store (`alertd.store.base.Store.submit`:
never blocks, committed off the loop): the reading, the rises it recorded, the provider's
checks when they changed, and each notification that went out.

Each watched provider is one `Watch`: its adapter, its rules, its state and the deliveries
under way for it. A reload that removes a provider, or points its name at another account,
replaces the whole Watch: a delivery still running for the old account can only ever record
into the old Watch, never into the new account's state.

Deliveries run as their own tasks, each queued on its notifier URL's own lane (see
`alertd.notify.lane`), so a slow or failing notifier never holds up polling or another URL.
A delivery updates the notification log only after it went out; one that gives up leaves
the log as it was, so the next poll decides again: an alert is never silently dropped.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from alertd.config.loader import Settings
from alertd.config.rules import rules_of
from alertd.core.burn import project, replay
from alertd.core.model import Failure, Poll
from alertd.core.render import Message, render
from alertd.core.rules import Rules
from alertd.core.series import Event, Sample
from alertd.core.state import CheckState
from alertd.core.step import DeliveryKey, Notification, ProviderState, abandoned, delivered, step
from alertd.http import HttpClient
from alertd.notify.lane import Outcome
from alertd.observability.logging import get_logger
from alertd.providers import Provider
from alertd.store.base import LogEntry, Record, Store
from alertd.store.memory import MemoryStore

PollObserver = Callable[["Watch", Poll, tuple[Event, ...]], None]
DeliveryObserver = Callable[[str, str, str, bool, float], None]


class Delivery(Protocol):
    """What the engine needs of delivery (`alertd.notify.dispatch.Dispatcher`): the outcome
    of one message to one URL. `key` names what it is about: a newer message with the same
    key replaces it while it waits in the URL's queue."""

    async def deliver(
        self,
        notifier: str,
        index: int,
        message: Message,
        on_failure: Callable[[], None] = ...,
        key: Hashable = ...,
        **context: Any,
    ) -> Outcome: ...

    def close(self) -> None:
        """alertd stops: nothing new goes out; waiting messages end at once."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A gate's answer for one notification: send it (`go`), or not, and then whether it
    already went out elsewhere (`sent`: recorded as delivered, not sent again)."""

    go: bool
    sent: bool = False
    why: str = ""
    token: Any = None  # what the gate needs back in `settle`


class Gate(Protocol):
    """What a notification passes before it is sent: HA replicas claim it in the shared
    store (`alertd.ha.gate`), so that one of them sends it; one replica alone sends all."""

    async def admit(
        self, provider: str, notification: Notification, previous_at: datetime | None
    ) -> Ticket: ...

    async def settle(self, ticket: Ticket, sent: bool) -> None: ...


class OpenGate:
    """A replica alone: everything goes."""

    async def admit(
        self, provider: str, notification: Notification, previous_at: datetime | None
    ) -> Ticket:
        return Ticket(go=True)

    async def settle(self, ticket: Ticket, sent: bool) -> None:
        return None


@dataclass(eq=False)
class Watch:
    """One watched provider: what it is, what alertd knows of it, what is being sent."""

    name: str
    provider: Provider
    rules: Rules
    state: ProviderState
    since: datetime  # watched since: the daemon's start, or the reload that added it
    log: Any
    deliveries: dict[DeliveryKey, asyncio.Task[None]] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        settings: Settings,
        client: HttpClient,
        dispatcher: Delivery,
        clock: Callable[[], datetime],
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.dispatcher = dispatcher
        self.clock = clock
        self.store: Store = store if store is not None else MemoryStore()
        self.gate: Gate = OpenGate()
        self.counters: Counter[str] = Counter()
        self.observers: list[PollObserver] = []
        self.delivery_observers: list[DeliveryObserver] = []
        self.watches: dict[str, Watch] = {}
        self._deliveries: set[asyncio.Task[None]] = set()  # of every Watch, replaced ones too
        for name in settings.providers:
            self._watch(name)

    async def restore(self) -> int:
        """Before the first poll: each provider's alert state as the store last committed
        it, so a restart neither repeats nor forgets an alert. The state of providers no
        longer configured is cleared, as a reload that removes a provider clears it.
        Returns how many providers had state to restore.

        Each burn tracker is rebuilt from the store's readings of the provider's last
        `burn_window` only (never the whole history), so the forecast and the runway check
        go on where they were.
        """
        restored = await self.store.load_state()
        for name, checks in restored.items():
            watch = self.watches.get(name)
            if watch is None:
                self.store.submit(Record(name, checks={}))
            else:
                watch.state = replace(watch.state, checks=checks)
        now = self.clock()
        windows = {n: w.rules.forecasting.burn_window for n, w in self.watches.items()}
        samples = await self.store.load_samples({n: now - window for n, window in windows.items()})
        for name, series in samples.items():
            watch = self.watches.get(name)
            if watch is not None and series:
                burn = replay(series, windows[name])
                forecast = project(burn, windows[name], now)
                watch.state = replace(watch.state, burn=burn, forecast=forecast)
        return sum(name in self.watches for name in restored)

    def _watch(self, name: str, state: ProviderState | None = None) -> Watch:
        watch = Watch(
            name,
            self.settings.providers[name],
            rules_of(self.settings.config, name),
            state or ProviderState(),
            self.clock(),
            get_logger(provider=name),
        )
        self.watches[name] = watch
        return watch

    def reconfigure(
        self, settings: Settings, dispatcher: Delivery, restart: Iterable[str] = ()
    ) -> None:
        """A reload. Providers that are new, or in `restart` (now another account), start
        afresh; removed ones go; the others keep their state with the new adapter and rules.
        Deliveries under way finish as they were, recording into their own Watch."""
        self.settings = settings
        self.dispatcher = dispatcher
        restart = set(restart)
        for name in [n for n in self.watches if n not in settings.providers]:
            del self.watches[name]
            self.store.submit(Record(name, checks={}))
        for name in settings.providers:
            kept = self.watches.get(name)
            if kept is None or name in restart:
                if kept is not None:  # another account now: its alerts are not this one's
                    self.store.submit(Record(name, checks={}))
                self._watch(name)
            else:
                kept.provider = settings.providers[name]
                kept.rules = rules_of(settings.config, name)

    # -- polling ------------------------------------------------------------------------------
    async def poll_provider(self, name: str) -> None:
        watch = self.watches.get(name)
        if watch is None:
            return
        now = self.clock()
        until = watch.state.not_before
        if until is not None and watch.state.deferred(now):
            # A deferred poll is a failed check: a provider asking for a long wait reaches
            # "cannot check" after failure_threshold polls instead of silencing the check.
            poll = Poll(
                now, failure=Failure(f"rate limited, next try at {until:%Y-%m-%d %H:%M:%S} UTC")
            )
        else:
            poll = await watch.provider.poll(self.client, self.clock)
        if self.watches.get(name) is not watch:
            watch.log.info("poll_discarded", why="provider removed or re-pointed by a reload")
            return
        self.apply(watch, poll)

    def apply(self, watch: Watch, poll: Poll) -> None:
        """Folds one poll into the Watch's state and sends what `step` says is due."""
        result = step(watch.name, watch.state, poll, watch.rules, poll.checked_at)
        changed = result.state.checks != watch.state.checks
        watch.state = result.state
        self.counters["polls_ok" if poll.reading else "polls_failed"] += 1
        self._log_poll(watch, poll)
        for observer in self.observers:
            observer(watch, poll, result.events)
        for silenced in result.silenced:
            watch.log.info(
                "notification_skipped",
                check=silenced.check,
                reason="resolved",
                why="notify_resolved is off",
                notifier=silenced.destination.notifier,
            )
        for notification in result.notifications:
            self._send(watch, notification)
        self.store.submit(
            Record(
                watch.name,
                sample=Sample.of(poll.reading) if poll.reading is not None else None,
                events=result.events,
                checks=watch.state.checks if changed else None,
            )
        )

    def _log_poll(self, watch: Watch, poll: Poll) -> None:
        duration_ms = round(poll.duration * 1000, 1)
        severity = watch.state.worst.label
        if poll.reading is not None:
            watch.log.info(
                "poll",
                duration_ms=duration_ms,
                balance=str(poll.reading.amount),
                unit=poll.reading.unit,
                severity=severity,
            )
        else:
            assert poll.failure is not None
            watch.log.warning(
                "poll_failed",
                duration_ms=duration_ms,
                error=poll.failure.reason,
                failures=watch.state.checks["fetch"].failures,
                severity=severity,
            )

    # -- notifying ------------------------------------------------------------------------------
    def _send(self, watch: Watch, notification: Notification) -> None:
        """`step` only sends news that differs from what is being delivered: a delivery of
        older news for the same check and destination is cancelled (escalation)."""
        running = watch.deliveries.get(notification.key)
        if running is not None:
            running.cancel()
        check = watch.state.checks.get(notification.check)
        told = check.sent.get(notification.destination.key) if check is not None else None
        task = asyncio.create_task(
            self._deliver(watch, notification, render(notification), told.at if told else None)
        )
        watch.deliveries[notification.key] = task
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(
        self,
        watch: Watch,
        notification: Notification,
        message: Message,
        previous_at: datetime | None = None,
    ) -> None:
        """`previous_at`: when this destination was last told of the check (the gate's key
        tells each reminder apart)."""
        route = notification.destination
        started = asyncio.get_running_loop().time()
        outcome = Outcome.ABANDONED
        ticket = Ticket(go=False)
        try:
            ticket = await self.gate.admit(watch.name, notification, previous_at)
            outcome = await self._send_through(watch, notification, message, ticket)
        finally:
            if watch.deliveries.get(notification.key) is asyncio.current_task():
                del watch.deliveries[notification.key]
            if outcome is not Outcome.SENT:  # the log is untouched: decided again later
                watch.state = abandoned(watch.state, notification)
        elapsed = asyncio.get_running_loop().time() - started
        reason = notification.reason.value
        ok = outcome is Outcome.SENT
        if ticket.go and outcome in (Outcome.SENT, Outcome.FAILED, Outcome.DROPPED):
            for observer in self.delivery_observers:
                observer(watch.name, route.notifier, reason, ok, elapsed)
        fields = {
            "check": notification.check,
            "reason": reason,
            "severity": notification.severity.label,
            "notifier": route.notifier,
            "url_index": route.url_index,
            "title": message.title,
        }
        if ok and not ticket.go:  # another replica (or an earlier term) sent it
            watch.state = delivered(watch.state, notification, self.clock())
            watch.log.info("notification_already_sent", why=ticket.why, **fields)
            if self.watches.get(watch.name) is watch:
                self.store.submit(Record(watch.name, checks=watch.state.checks))
        elif ok:
            self.counters["notifications_sent"] += 1
            at = self.clock()
            watch.state = delivered(watch.state, notification, at)
            watch.log.info("notification_sent", **fields)
            entry = LogEntry(
                watch.name, notification.check, route.key, notification.reason,
                notification.severity, at, message.title,
            )  # fmt: skip
            current = self.watches.get(watch.name) is watch  # else a reload replaced it
            checks = watch.state.checks if current else None
            self.store.submit(Record(watch.name, checks=checks, sent=(entry,)))
        elif outcome is Outcome.FAILED:
            self.counters["notifications_failed"] += 1
            watch.log.error("notification_failed", **fields)
        elif outcome is Outcome.DROPPED:
            self.counters["notifications_dropped"] += 1
            watch.log.warning(
                "notification_dropped", why="this notifier URL's queue is full", **fields
            )
        else:  # superseded by newer news, alertd stopping, or the gate said no
            why = outcome.value if ticket.go else ticket.why
            watch.log.info("notification_not_sent", why=why, **fields)

    async def _send_through(
        self, watch: Watch, notification: Notification, message: Message, ticket: Ticket
    ) -> Outcome:
        """The delivery the gate admitted (SENT without one when it already went out)."""
        if not ticket.go:
            return Outcome.SENT if ticket.sent else Outcome.ABANDONED
        route = notification.destination
        outcome = await self.dispatcher.deliver(
            route.notifier,
            route.url_index,
            message,
            on_failure=lambda: self.counters.update(["notifications_failed_attempts"]),
            key=(watch.name, notification.check),
            provider=watch.name,
            check=notification.check,
            title=message.title,
        )
        await self.gate.settle(ticket, outcome is Outcome.SENT)
        return outcome

    # -- what the daemon reads -----------------------------------------------------------------
    def checks(self) -> dict[str, Mapping[str, CheckState]]:
        """Every provider's checks with their notification log: what the store keeps."""
        return {name: watch.state.checks for name, watch in self.watches.items()}

    def pending_deliveries(self) -> list[asyncio.Task[None]]:
        return list(self._deliveries)
