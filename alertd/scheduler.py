"""The daemon: APScheduler wiring, signals and a clean stop (GUIDE: APScheduler 3.11).

One job per provider on its own interval. The first poll of each provider runs at start,
spread by a random offset within its jitter; later polls keep a fixed interval from there
(APScheduler's own `jitter` drifts, so it is not used). A hanging poll is bounded by the
provider's timeout and `max_instances=1` keeps it from stacking; it never delays another
provider because each job is its own asyncio task.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from alertd.config import ProviderConfig
from alertd.engine import Engine
from alertd.http import make_client
from alertd.loader import Settings
from alertd.notify.dispatch import Dispatcher, RetryPolicy
from alertd.observability.logging import get_logger

STOP_GRACE_SECONDS = 10.0


def first_run_offset(cfg: ProviderConfig, rng: random.Random) -> timedelta:
    """A random delay in [0, jitter] before the first poll, jitter being % of the interval."""
    interval = cfg.interval.total_seconds()
    spread = (
        interval * float(cfg.jitter.value) / 100 if cfg.jitter.percent else float(cfg.jitter.value)
    )
    return timedelta(seconds=rng.uniform(0, min(spread, interval)))


class Daemon:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.stopping = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None
        self.engine: Engine | None = None
        self._polls: set[asyncio.Task[None]] = set()
        self.log = get_logger()

    # -- jobs -------------------------------------------------------------------------------
    async def _job(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None and self.engine is not None
        self._polls.add(task)
        try:
            await self.engine.poll_provider(name)
        except Exception:  # one provider's bug never stops the others
            get_logger(provider=name).exception("poll_job_crashed")
        finally:
            self._polls.discard(task)

    def schedule(self, name: str, cfg: ProviderConfig, first_run: datetime | None = None) -> None:
        assert self.scheduler is not None
        start = first_run or self.clock() + first_run_offset(cfg, self.rng)
        self.scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=cfg.interval.total_seconds(), timezone=UTC),
            args=[name],
            id=name,
            name=f"poll {name}",
            next_run_time=start,
            replace_existing=True,
        )

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        async with make_client() as client:
            config = self.settings.config
            self.engine = Engine(
                self.settings, client, Dispatcher(config.notifiers, self.retry), self.clock
            )
            self.scheduler = AsyncIOScheduler(
                timezone=UTC,
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            for name, cfg in config.providers.items():
                self.schedule(name, cfg)
            self.scheduler.start()
            self.log.info(
                "started",
                providers=len(config.providers),
                notifiers=len(config.notifiers),
                config=str(self.settings.path),
            )
            await self.stopping.wait()
            await self._stop()
        return 0

    def _request_stop(self, sig: signal.Signals) -> None:
        self.log.info("stopping", signal=sig.name)
        self.stopping.set()

    async def _stop(self) -> None:
        """Pause, let in-flight polls and deliveries finish (bounded), then shut down."""
        assert self.scheduler is not None and self.engine is not None
        self.scheduler.pause()
        pending = [*self._polls, *self.engine.pending_deliveries()]
        if pending:
            _, left = await asyncio.wait(pending, timeout=STOP_GRACE_SECONDS)
            for task in left:
                task.cancel()
            if left:
                self.log.warning("stop_timeout", cancelled=len(left))
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        self.log.info("stopped", **dict(self.engine.counters))
