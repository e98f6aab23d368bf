"""The daemon: APScheduler wiring, the store, listener, signals, reload and a clean stop.

The store (`store:`, SPEC §6) is opened before anything else, so an unusable one stops
alertd with one line before a poll; alert state is restored from it before the first poll;
its retention (compaction) runs at start and hourly; at SIGTERM it is flushed and closed
within the stop grace. Its URL is read at start only: a reload keeps the store.

One job per provider on its own interval, timed by `alertd.timing` (first poll at start,
then spread over the interval). A hanging poll is bounded by the
provider's timeout and `max_instances=1` keeps it from stacking; it never delays another
provider because each job is its own asyncio task.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from alertd.config.loader import Settings, load
from alertd.config.model import ProviderConfig
from alertd.core.model import Poll
from alertd.core.series import Event
from alertd.engine import Engine, Watch
from alertd.errors import ConfigError
from alertd.http import make_client
from alertd.notify.dispatch import Dispatcher, RetryPolicy
from alertd.observability import logging as logs
from alertd.observability.health import Health, assess
from alertd.observability.metrics import Metrics
from alertd.store import open_store
from alertd.store.base import Store
from alertd.store.url import POSTGRESQL, parse_store_url
from alertd.threads import in_daemon_thread
from alertd.timing import trigger_for

if TYPE_CHECKING:
    from alertd.ha.replica import Replica
    from alertd.web.guard import Listener

STOP_GRACE_SECONDS = 8.0  # under `docker stop`'s 10 s, so the last state write still happens
STORE_CLOSE_SECONDS = 2.0  # of the grace, kept for the store's last commit
COMPACT_JOB = "@store-compact"  # not a provider name: those start with a letter or digit
DELIVERY_GRACE_SECONDS = 4.0  # a send under way at SIGTERM; one still hung then is abandoned
RELOAD_TIMEOUT_SECONDS = 30.0


def same_account(old: ProviderConfig, new: ProviderConfig) -> bool:
    """Whether a changed provider still watches the same account, so its alert state holds."""
    return (old.type, old.base_url, old.api_key, old.path) == (
        new.type,
        new.base_url,
        new.api_key,
        new.path,
    )


class Daemon:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        config_arg: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.config_arg = config_arg
        self.stopping = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None
        self.engine: Engine | None = None
        self.dispatcher: Dispatcher | None = None  # made at run, remade by each reload
        self.metrics = Metrics()
        self.store: Store = open_store(settings.config.store_url(), clock)
        self.replica: Replica | None = None  # HA (SPEC §7): with a postgresql:// store
        self._polls: set[asyncio.Task[None]] = set()
        self._reloading: asyncio.Task[bool] | None = None
        self.log = logs.get_logger()

    # -- jobs -------------------------------------------------------------------------------
    async def _job(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        assert self.engine is not None
        if self.replica is not None and not self.replica.acting():
            return  # deposed (a paused leader waking up): its missed polls never run
        self._polls.add(task)
        try:
            await self.engine.poll_provider(name)
        except Exception:  # one provider's bug never stops the others
            logs.get_logger(provider=name).exception("poll_job_crashed")
        finally:
            self._polls.discard(task)

    def schedule(self, name: str, cfg: ProviderConfig) -> None:
        assert self.scheduler is not None
        if self.replica is not None and not self.replica.acting():
            return  # a standby polls nothing; it schedules every provider when it leads
        trigger = trigger_for(cfg, self.clock(), self.rng)
        self.scheduler.add_job(
            self._job,
            trigger,
            args=[name],
            id=name,
            name=f"poll {name}",
            next_run_time=trigger.first,
            replace_existing=True,
        )

    # -- observers ------------------------------------------------------------------------------
    def _on_poll(self, watch: Watch, poll: Poll, events: tuple[Event, ...]) -> None:
        self.metrics.on_poll(watch.name, watch.rules.provider_type, poll, watch.state.checks)
        self.metrics.on_forecast(watch.name, watch.state.forecast, events)

    def _on_delivery(self, provider: str, notifier: str, reason: str, ok: bool, s: float) -> None:
        self.metrics.on_delivery(notifier, reason, ok, s)

    def health(self) -> Health:
        running = (
            self.scheduler is not None
            and self.scheduler.state == STATE_RUNNING
            and not self.stopping.is_set()
        )
        watches = self.engine.watches.values() if self.engine else ()
        last_success = {w.name: w.state.reading.checked_at for w in watches if w.state.reading}
        watched_since = {w.name: w.since for w in watches}
        intervals = {n: c.interval for n, c in self.settings.config.providers.items()}
        # Ready once each provider's first poll was attempted. A provider added by a reload,
        # or pointed at another account, is a new Watch with no poll yet: it counts as new.
        unpolled = [w.name for w in watches if w.state.last_poll is None]
        verdict = assess(running, intervals, last_success, watched_since, self.clock(), unpolled)
        return self.replica.health(verdict) if self.replica and running else verdict

    # -- the store ------------------------------------------------------------------------------
    async def _compact(self) -> None:
        """Retention: raw readings older than each provider's `history_retention` become
        hourly summaries (in the store's writer thread, in bounded batches)."""
        if self.replica is not None and not self.replica.acting():
            return  # the leader compacts the shared store
        retention = {n: c.history_retention for n, c in self.settings.config.providers.items()}
        started = asyncio.get_running_loop().time()
        try:
            folded = await self.store.compact(self.clock(), retention)
        except Exception as exc:  # logged; the next run tries again
            self.log.error("store_compaction_failed", error=str(exc))
            return
        if folded:
            took = asyncio.get_running_loop().time() - started
            self.log.info("store_compacted", readings=folded, took_ms=round(took * 1000, 1))

    def _replicated(self) -> bool:
        url = self.settings.config.store_url()
        return url is not None and parse_store_url(url).kind == POSTGRESQL

    def _replica(self) -> Replica:
        """Imported here: psycopg costs ~130 ms at start, for HA users only."""
        from alertd.ha.replica import Replica
        from alertd.store.postgres import PostgresStore

        assert isinstance(self.store, PostgresStore)
        return Replica(self.store, self.settings.config.ha, self.metrics.registry)

    async def _close_store(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.store.close(), seconds)
        except TimeoutError:
            self.log.error("store_close_timeout", waited=seconds)

    # -- reload ---------------------------------------------------------------------------------
    _reload_queued = False  # a SIGHUP came while a reload ran: one more reload after it

    def _request_reload(self) -> None:
        """SIGHUP. During a reload, one follow-up is queued (more SIGHUPs add nothing): the
        running reload may have read the file before the edit that this signal announces."""
        if self._reloading is not None and not self._reloading.done():
            self._reload_queued = True
            self.log.info("reload_queued")
            return

        async def reload_until_settled() -> bool:
            while True:
                self._reload_queued = False
                applied = await self.reload()
                if not self._reload_queued or self.stopping.is_set():
                    return applied

        self._reloading = asyncio.create_task(reload_until_settled())

    async def reload(self) -> bool:
        """SIGHUP: apply a new config, or refuse it and keep running the old one.

        The file is loaded in a daemon thread, bounded by RELOAD_TIMEOUT_SECONDS: a load that
        hangs (a file on a dead network mount) is refused and never keeps the process from
        exiting, as `asyncio.to_thread`'s executor thread would (it is joined at exit).
        """
        assert self.engine is not None
        assert self.scheduler is not None
        try:
            new = await asyncio.wait_for(
                in_daemon_thread(load, self.config_arg or self.settings.path, name="alertd-reload")[
                    0
                ],
                RELOAD_TIMEOUT_SECONDS,
            )
        except ConfigError as exc:
            self.log.error("reload_refused", problems=exc.problems)
            return False
        except TimeoutError:
            problem = f"loading the config did not finish within {RELOAD_TIMEOUT_SECONDS:g}s"
            self.log.error("reload_refused", problems=[problem])
            return False
        for warning in new.warnings:
            self.log.warning("config_warning", warning=warning)
        old = self.settings
        if new.config.store_url() != old.config.store_url():  # read at start only
            self.log.warning("store_change_ignored", why="store: takes effect at the next start")
        old_cfg, new_cfg = old.config.providers, new.config.providers
        removed = [n for n in old_cfg if n not in new_cfg]
        added = [n for n in new_cfg if n not in old_cfg]
        changed = [n for n in new_cfg if n in old_cfg and new_cfg[n] != old_cfg[n]]
        repointed = [n for n in changed if not same_account(old_cfg[n], new_cfg[n])]
        for name in removed:
            self.scheduler.remove_job(name)
            self.metrics.forget(name)
        for name in [*removed, *repointed]:
            await self.engine.client.forget(name)
        self.settings = new
        self.dispatcher = Dispatcher(new.config.notifiers, self.retry, previous=self.dispatcher)
        self.engine.reconfigure(new, self.dispatcher, repointed)
        logs.REDACTOR.update([*old.secrets(), *new.secrets()])
        for name in [*added, *changed]:
            self.schedule(name, new_cfg[name])
        self.metrics.providers.set(len(new_cfg))
        self.log.info(
            "reloaded",
            added=added,
            removed=removed,
            changed=changed,
            unchanged=len(new_cfg) - len(added) - len(changed),
        )
        return True

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        for problem in await self.store.open():  # StoreError: alertd stops with one line
            self.log.error("store_unusable", problem=problem)
        listener: Listener | None = None
        if self.settings.config.http.listen:  # first: a taken port stops alertd before a poll
            from alertd.web.listener import start_listener  # aiohttp: loaded only when used
            from alertd.web.routes import Sources

            watches = lambda: self.engine.watches if self.engine else {}  # noqa: E731
            sources = Sources(
                self.health, self.metrics, watches, self.clock,
                history=self.store.history, http=self.settings.config.http,
                redact=logs.REDACTOR.text,
            )  # fmt: skip
            listener = await start_listener(self.settings.config.http.listen, sources)
        self.dispatcher = Dispatcher(self.settings.config.notifiers, self.retry)
        async with make_client() as client:
            config = self.settings.config
            engine = Engine(
                self.settings,
                client,
                self.dispatcher,
                self.clock,
                self.store,
            )
            if self._replicated():  # HA: state is loaded on taking over, not now
                self.replica = self._replica()
                engine.gate = self.replica.gate
            else:
                restored = await engine.restore()
                self.log.info("state_restored", store=self.store.description, providers=restored)
            engine.observers.append(self._on_poll)
            engine.delivery_observers.append(self._on_delivery)
            self.engine = engine
            self.scheduler = AsyncIOScheduler(
                timezone=UTC,
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            for name, cfg in config.providers.items():
                self.schedule(name, cfg)
            self.scheduler.add_job(
                self._compact, "interval", hours=1, id=COMPACT_JOB, next_run_time=self.clock()
            )
            self.scheduler.start()
            if self.replica is not None:
                from alertd.ha.roles import DaemonRoles

                await self.replica.start(DaemonRoles(self))
            self.metrics.scheduler_running.set(1)
            self.metrics.providers.set(len(config.providers))
            self.log.info(
                "started",
                providers=len(config.providers),
                notifiers=len(config.notifiers),
                config=str(self.settings.path),
                listen=config.http.listen,
                store=self.store.description,
            )
            await self.stopping.wait()
            await self._stop()
            if listener is not None:
                await listener.close()
        return 0

    def _request_stop(self, sig: signal.Signals) -> None:
        self.log.info("stopping", signal=sig.name)
        self.stopping.set()

    async def _stop(self) -> None:
        """Pause; a send under way gets DELIVERY_GRACE_SECONDS (a hung SMTP server must not
        outlast `docker stop`'s 10 s: its thread is a daemon and is left behind), messages
        waiting in a queue or a backoff are not sent (not recorded either: the next start
        decides again), polls get what is left of STOP_GRACE_SECONDS but the store's last
        STORE_CLOSE_SECONDS; then shut down, and the store commits what is queued."""
        assert self.scheduler is not None
        assert self.engine is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_SECONDS
        self.scheduler.pause()
        self.metrics.scheduler_running.set(0)
        self.engine.dispatcher.close()
        deliveries = self.engine.pending_deliveries()
        if deliveries:
            _, hung = await asyncio.wait(deliveries, timeout=DELIVERY_GRACE_SECONDS)
            for task in hung:
                task.cancel()
            if hung:
                self.log.warning("deliveries_abandoned", count=len(hung))
        if self._polls:
            polls_until = deadline - STORE_CLOSE_SECONDS
            wait = max(polls_until - loop.time(), 0.1)
            _, left = await asyncio.wait(set(self._polls), timeout=wait)
            for task in left:
                task.cancel()
            if left:
                self.log.warning("stop_timeout", cancelled=len(left))
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        if self.replica is not None:  # gives the lease up: a standby takes over at once
            await self.replica.stop()
        await self._close_store(max(deadline - loop.time(), STORE_CLOSE_SECONDS))
        self.log.info("stopped", **dict(self.engine.counters))
