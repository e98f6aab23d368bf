"""The leadership lease (SPEC §7): one row in `alertd_lease`, kept by the leader renewing it.

    holder      who leads (the replica's node id: host, pid and a random part)
    epoch       the fencing token: bumped each time the lease changes hands (or lapses)
    expires_at  by the database's own clock (`now()`), never a replica's

One statement takes or renews it: an `INSERT ... ON CONFLICT DO UPDATE ... WHERE` that
succeeds only for the holder renewing its own unexpired term (same epoch), or for anyone
when the lease has expired (new epoch). The row count says who won; no lock is held
between statements, so a paused or hung leader frees the lease by simply not renewing,
which a session-level advisory lock would not (its TCP session stays up while the kernel
answers keepalives). Nothing here depends on the session: PgBouncer transaction pooling is
fine.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

LEASE = "leader"

_TAKE_OR_RENEW = """
INSERT INTO alertd_lease AS l (name, holder, epoch, acquired_at, renewed_at, expires_at)
VALUES (%(name)s, %(holder)s, 1, now(), now(), now() + %(ttl)s)
ON CONFLICT (name) DO UPDATE SET
    holder = EXCLUDED.holder,
    epoch = CASE WHEN l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END,
    acquired_at = CASE WHEN l.expires_at > now() THEN l.acquired_at ELSE now() END,
    renewed_at = now(),
    expires_at = EXCLUDED.expires_at
WHERE (l.holder = EXCLUDED.holder AND l.epoch = %(epoch)s::bigint AND l.expires_at > now())
   OR l.expires_at <= now()
RETURNING holder, epoch, expires_at, now()
"""

_CURRENT = """
SELECT holder, epoch, expires_at, now() FROM alertd_lease WHERE name = %(name)s
"""

_RELEASE = """
UPDATE alertd_lease SET expires_at = now()
WHERE name = %(name)s AND holder = %(holder)s AND epoch = %(epoch)s AND expires_at > now()
"""


def node_id(name: str | None = None) -> str:
    """This process's name in the lease: readable (`ha.node`, else the host name; the pid)
    and unique (a random part: two replicas given the same name still differ)."""
    return f"{(name or socket.gethostname())[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Term:
    """The lease as the database saw it: `now` is the database's clock at that moment."""

    holder: str
    epoch: int
    expires_at: datetime
    now: datetime

    @property
    def remaining(self) -> timedelta:
        return self.expires_at - self.now

    def held_by(self, holder: str) -> bool:
        return self.holder == holder and self.expires_at > self.now


def _term(row: Any) -> Term:
    holder, epoch, expires_at, now = row
    return Term(str(holder), int(epoch), expires_at, now)


class Lease:
    """The SQL of the lease, on a connection the caller owns (and reconnects)."""

    def __init__(self, holder: str, ttl: timedelta, name: str = LEASE) -> None:
        self.holder = holder
        self.ttl = ttl
        self.name = name

    async def take_or_renew(
        self, conn: psycopg.AsyncConnection[Any], epoch: int | None
    ) -> tuple[bool, Term | None]:
        """(won, the lease now). `epoch`: the term this holder renews (None: only take an
        expired or missing lease). Losing returns the current holder's term."""
        params = {"name": self.name, "holder": self.holder, "ttl": self.ttl, "epoch": epoch}
        row = await (await conn.execute(_TAKE_OR_RENEW, params)).fetchone()
        if row is not None:
            return True, _term(row)
        return False, await self.current(conn)

    async def current(self, conn: psycopg.AsyncConnection[Any]) -> Term | None:
        row = await (await conn.execute(_CURRENT, {"name": self.name})).fetchone()
        return _term(row) if row is not None else None

    async def release(self, conn: psycopg.AsyncConnection[Any], epoch: int) -> bool:
        """Ends this holder's term now (a clean stop: a standby takes over at once)."""
        params = {"name": self.name, "holder": self.holder, "epoch": epoch}
        cursor = await conn.execute(_RELEASE, params)
        return cursor.rowcount == 1
