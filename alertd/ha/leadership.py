"""Who polls and notifies among HA replicas (SPEC §7): this replica's role, kept current by
renewing or contending for the lease (`alertd.ha.lease`) every `renew` seconds.

    leader     holds the lease: polls, notifies, writes (each write carries its epoch)
    standby    another replica holds it: waits, keeps contending, polls nothing
    fail-open  the database has been unreachable for a whole lease term: nobody can hold a
               lease, so this replica polls and alerts from memory rather than stay silent

The leader stops leading the moment it can no longer be sure of its lease: its own deadline
is the monotonic time the renewal was *sent* plus the term, less a margin, so it always ends
before the database's `expires_at` (which counts from the statement's start). `leading()`
reads that deadline on every call, so a leader paused by SIGSTOP finds itself deposed the
instant it wakes, before any timer of its loop has run.

A leader whose lease session is cut (`pg_terminate_backend`, a database restart) steps
down: it releases the lease once it reconnects and does not contend for one term, so an
operator can move leadership by ending the leader's session and a healthy peer takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import psycopg

from alertd.ha.lease import Lease, Term
from alertd.observability.logging import get_logger
from alertd.store.pgconn import connect_kwargs, explain

HAND_OVER_WAIT_S = 2.0


class Role(enum.StrEnum):
    LEADER = "leader"
    STANDBY = "standby"
    FAIL_OPEN = "fail-open"


RoleObserver = Callable[[Role, Role], None]


class Leadership:
    def __init__(
        self,
        url: str,
        lease: Lease,
        renew: timedelta,
        clock: Callable[[], float] = time.monotonic,
        before_release: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`before_release`: what must be written before this replica gives its term up
        (the store's flush): a successor then starts from everything this leader sent."""
        self.url = url
        self.before_release = before_release
        self.lease = lease
        self.ttl = lease.ttl.total_seconds()
        self.renew = renew.total_seconds()
        self.margin = min(1.0, self.ttl / 10)
        self.clock = clock
        self.role = Role.STANDBY
        self.epoch: int | None = None  # of the term this replica holds (or last held)
        self.deadline = 0.0  # monotonic: lead until then, unless renewed
        self.holder: str | None = None  # who leads, as last seen
        self.problem: str | None = None  # why the database is unreachable (None: it is not)
        self.unreachable_since: float | None = None
        self.takeovers = 0
        self.observers: list[RoleObserver] = []
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._cooldown_until = 0.0
        self._release: int | None = None  # a term to give up once the database answers
        self._stopping = asyncio.Event()
        self.log = get_logger(node=lease.holder)

    # -- what the daemon asks --------------------------------------------------------------
    def leading(self) -> bool:
        """Whether this replica holds the lease right now (by its own monotonic deadline)."""
        return self.role is Role.LEADER and self.clock() < self.deadline

    def acting(self) -> bool:
        """Whether this replica should poll and notify now: it leads, or fails open."""
        return self.leading() or self.role is Role.FAIL_OPEN

    @property
    def reachable(self) -> bool:
        return self.problem is None

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        """Until `stop()`: one attempt per `renew` seconds, and a wake-up at the deadline."""
        while not self._stopping.is_set():
            await self.tick()
            wait = self.renew
            if self.role is Role.LEADER:
                wait = max(min(wait, self.deadline - self.clock()), 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    async def tick(self) -> None:
        """One attempt to renew (leader) or take (others) the lease."""
        started = self.clock()
        if self.role is Role.LEADER and started >= self.deadline:
            self._become(Role.STANDBY, "the lease could not be renewed before it expired")
        had_session = self._conn is not None and not self._conn.closed
        try:
            won, term = await asyncio.wait_for(self._attempt(), max(self.renew, 1.0))
        except psycopg.OperationalError as exc:  # the session broke, or none could be opened
            await self._drop_connection()
            self._unreachable(started, exc, session_lost=had_session)
            return
        except (psycopg.Error, OSError, TimeoutError) as exc:
            await self._drop_connection()
            self._unreachable(started, exc, session_lost=False)
            return
        if self.problem is not None:
            self.log.info("database_reachable_again", after_s=self._down_for(started))
        self.problem, self.unreachable_since = None, None
        self.holder = term.holder if term is not None else None
        if won and term is not None:
            self.deadline = started + self.ttl - self.margin
            if self.role is not Role.LEADER or self.epoch != term.epoch:
                self.epoch = term.epoch
                self.takeovers += 1
                self._become(Role.LEADER, f"took the lease (epoch {term.epoch})")
        elif self.role is not Role.STANDBY:
            self._become(Role.STANDBY, "another replica holds the lease", holder=self.holder)

    async def _attempt(self) -> tuple[bool, Term | None]:
        conn = await self._connection()
        if self._release is not None:
            await self._hand_over(min(self.renew / 2, HAND_OVER_WAIT_S))
            await self.lease.release(conn, self._release)
            self._release = None
        if self.clock() < self._cooldown_until:
            return False, await self.lease.current(conn)
        epoch = self.epoch if self.role is Role.LEADER else None
        return await self.lease.take_or_renew(conn, epoch)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            name = f"alertd lease {self.lease.holder}"
            self._conn = await psycopg.AsyncConnection.connect(self.url, **connect_kwargs(name))
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    def _down_for(self, now: float) -> float:
        return round(now - (self.unreachable_since or now), 1)

    def _unreachable(self, started: float, exc: BaseException, session_lost: bool) -> None:
        first = self.problem is None
        self.problem = f"database unreachable: {explain(exc, self.url)}"
        if self.unreachable_since is None:
            self.unreachable_since = started
        if first:
            self.log.error("database_unreachable", role=self.role.value, error=self.problem)
        if session_lost and self.role is Role.LEADER:
            self._release = self.epoch
            self._cooldown_until = self.clock() + self.ttl
            self._become(Role.STANDBY, "lost its database session: stepping down")
        elif self.role is Role.LEADER and self.clock() >= self.deadline:
            self._become(Role.STANDBY, "the lease could not be renewed before it expired")
        if self.role is not Role.FAIL_OPEN and self.clock() - self.unreachable_since >= self.ttl:
            self._become(Role.FAIL_OPEN, "the database is unreachable: alerting from memory")

    def _become(self, role: Role, why: str, **fields: object) -> None:
        old, self.role = self.role, role
        if old is role:
            return
        self.log.warning(
            "role_changed", role=role.value, was=old.value, why=why, epoch=self.epoch, **fields
        )
        for observer in self.observers:
            observer(old, role)

    async def _hand_over(self, seconds: float) -> None:
        """This leader's queued writes go first (bounded: the release never waits long)."""
        if self.before_release is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.before_release(), seconds)

    async def stop(self) -> None:
        """Ends the loop; a leader gives its lease up so that a standby takes over at once."""
        self._stopping.set()
        if self.leading() and self.epoch is not None:
            await self._hand_over(HAND_OVER_WAIT_S)
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                conn = await asyncio.wait_for(self._connection(), 2)
                await asyncio.wait_for(self.lease.release(conn, self.epoch), 2)
                self.log.info("lease_released", epoch=self.epoch)
        self._become(Role.STANDBY, "stopping")
        await self._drop_connection()
