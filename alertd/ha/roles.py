"""What the daemon does in each HA role (`alertd.ha.replica.Polling`): start or stop polling
and sending, and load the shared state when it takes over.

A standby has no poll job and a closed dispatcher; the leader and a replica failing open have
one job per provider and a dispatcher. Taking over starts from the store, never from the
replica's own memory: another replica may have led since (its sends are in the store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alertd.core.step import ProviderState
from alertd.notify.dispatch import Dispatcher

if TYPE_CHECKING:
    from alertd.daemon import Daemon


class DaemonRoles:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.sending = False  # the daemon's dispatcher was closed by the last stand_by

    async def take_over(self) -> None:
        daemon = self.daemon
        assert daemon.engine is not None
        self._stop_polling()
        await daemon.store.flush()  # what this replica sent alone (fail open) goes first
        now = daemon.clock()
        for watch in daemon.engine.watches.values():
            watch.state = ProviderState()
            watch.since = now
        restored = await daemon.engine.restore()
        daemon.log.info("state_restored", store=daemon.store.description, providers=restored)
        self._start_polling()

    async def stand_by(self) -> None:
        """Polling stops; messages waiting in a queue are dropped unsent (the leader decides
        them); a send under way may finish and be marked sent."""
        self._stop_polling()
        if self.sending and self.daemon.dispatcher is not None:
            self.daemon.dispatcher.close()
        self.sending = False

    async def go_alone(self) -> None:
        self._start_polling()

    def _start_polling(self) -> None:
        daemon = self.daemon
        assert daemon.engine is not None
        if not self.sending:
            daemon.dispatcher = Dispatcher(daemon.settings.config.notifiers, daemon.retry)
            daemon.engine.dispatcher = daemon.dispatcher
            self.sending = True
        for name, cfg in daemon.settings.config.providers.items():
            daemon.schedule(name, cfg)

    def _stop_polling(self) -> None:
        scheduler = self.daemon.scheduler
        if scheduler is None:
            return
        for name in self.daemon.settings.config.providers:
            if scheduler.get_job(name) is not None:
                scheduler.remove_job(name)
