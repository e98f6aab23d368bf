"""One HA replica (SPEC §7): the lease loop, the claim gate, and the daemon told what to do
when the role changes, one change at a time.

    became leader     `take_over()`: the store's state is loaded (this replica's own queued
                      writes first), then polling starts: a reminder that fell due while
                      nobody led is decided at the first poll
    became standby    `stand_by()`: polling stops, queued messages are dropped unsent (the
                      leader decides them), a send already under way may finish
    database lost     `go_alone()` (fail open): polling and alerting from memory

The role is shown on `/healthz` (a standby is healthy; a replica that cannot reach the
database is not) and on `/metrics` (`alertd_leader`, `alertd_database_up`,
`alertd_fail_open`, `alertd_lease_epoch`, `alertd_takeovers_total`, `alertd_claims_total`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from alertd.config.model import HaConfig
from alertd.ha.claims import Claims
from alertd.ha.gate import ClaimGate
from alertd.ha.leadership import Leadership, Role
from alertd.ha.lease import Lease, node_id
from alertd.observability.health import Health
from alertd.observability.logging import get_logger
from alertd.store.postgres import PostgresStore

RETRY_S = 1.0  # a role change that failed (the state could not be read) is tried again


class Polling(Protocol):
    """What the daemon does for each role."""

    async def take_over(self) -> None: ...

    async def stand_by(self) -> None: ...

    async def go_alone(self) -> None: ...


class Replica:
    def __init__(self, store: PostgresStore, config: HaConfig, registry: CollectorRegistry) -> None:
        self.store = store
        self.holder = node_id(config.node)
        self.leadership = Leadership(
            store.url,
            Lease(self.holder, config.lease),
            config.renew,
            before_release=store.flush,
        )
        self.claims = Claims(store.pool, self.holder, config.claim_timeout)
        self._claims_total = Counter(
            "alertd_claims",
            "Answers of the notification claims: claimed, sent (elsewhere), held, fenced,"
            " unavailable (sent unclaimed: fail open), standby, late",
            ["verdict"],
            registry=registry,
        )
        self.gate = ClaimGate(
            self.claims,
            self.leadership,
            lambda v: self._claims_total.labels(v).inc(),
            committed=store.flush,
        )
        self._takeovers = Counter(
            "alertd_takeovers", "Times this replica became the leader", registry=registry
        )
        Gauge(
            "alertd_leader", "1 while this replica holds the lease", registry=registry
        ).set_function(lambda: float(self.leadership.leading()))
        Gauge(
            "alertd_database_up", "1 while the lease's database answers", registry=registry
        ).set_function(lambda: float(self.leadership.reachable))
        Gauge(
            "alertd_fail_open",
            "1 while this replica alerts alone because the database is unreachable",
            registry=registry,
        ).set_function(lambda: float(self.leadership.role is Role.FAIL_OPEN))
        Gauge(
            "alertd_lease_epoch", "The fencing epoch of this replica's term", registry=registry
        ).set_function(lambda: float(self.leadership.epoch or 0))
        self.leadership.observers.append(self._on_role)
        self._changed = asyncio.Event()
        self._applied: Role | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.log = get_logger(node=self.holder)

    def acting(self) -> bool:
        """Poll and notify now? (leader by its own deadline, or failing open)"""
        return self.leadership.acting()

    def _on_role(self, old: Role, new: Role) -> None:
        if new is Role.LEADER:
            self._takeovers.inc()
            self.store.fence = (self.holder, self.leadership.epoch or 0)
        self._changed.set()

    async def start(self, polling: Polling) -> None:
        """The lease loop and the role applier, as tasks; returns at once."""
        self.log.info("ha_started", role=self.leadership.role.value)
        self._tasks = [
            asyncio.create_task(self.leadership.run(), name="alertd-lease"),
            asyncio.create_task(self._apply_roles(polling), name="alertd-roles"),
        ]

    async def _apply_roles(self, polling: Polling) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            role = self.leadership.role
            if role is self._applied:
                continue
            self._applied = role
            try:
                if role is Role.LEADER:
                    await polling.take_over()
                elif role is Role.FAIL_OPEN:
                    await polling.go_alone()
                else:
                    await polling.stand_by()
            except Exception as exc:  # tried again shortly: never a dead loop
                self.log.error("role_change_failed", role=role.value, error=str(exc)[:300])
                self._applied = None
                await asyncio.sleep(RETRY_S)
                self._changed.set()

    def health(self, leader_health: Health) -> Health:
        """`/healthz` of a replica: a standby is healthy while the database answers; a
        replica that cannot reach it is not, whatever its role."""
        lead = self.leadership
        role = lead.role.value
        if lead.problem is not None:
            doing = (
                "failing open: polling and alerting from memory"
                if lead.role is Role.FAIL_OPEN
                else "not polling until it answers or a lease term passes"
            )
            return Health(False, f"{lead.problem}; {doing}", leader_health.stale, role=role)
        if lead.role is Role.STANDBY:
            return Health(True, f"standby: {lead.holder or 'another replica'} leads", role=role)
        return Health(
            leader_health.ok,
            leader_health.reason,
            leader_health.stale,
            leader_health.waiting,
            leader_health.live,
            role=role,
        )

    async def stop(self) -> None:
        """Gives the lease up (a standby takes over at once) and ends the loops."""
        for task in self._tasks[1:]:
            task.cancel()
        await self.leadership.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
