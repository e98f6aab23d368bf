"""Claims (SPEC §7): a notification is claimed in the store before it is sent, marked sent
after, so that two replicas never send the same one.

The key names one notification of one alert episode to one destination: provider, check,
destination, reason, severity, when the condition began (`since`) and when this destination
was last told (`previous_at`: each reminder has its own). Replicas deciding from the same
stored state compute the same key, and `INSERT ... ON CONFLICT DO NOTHING`-style claiming
lets exactly one of them send.

A claim is fenced: it is only written while no newer lease epoch than the claimant's exists,
so a deposed leader that wakes up claims (and so sends) nothing. A claim left unsent (its
leader died mid-send) can be taken again after `timeout`, so the new leader re-sends it:
delivery is at-least-once, and the one duplicate window is a leader that stops after the
message went out and before it marked the claim sent.

Failing open: when the database does not answer, the verdict is UNAVAILABLE and the caller
sends anyway (an alert is never lost because the store was down).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

OP_TIMEOUT_S = 5.0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class Verdict(enum.Enum):
    CLAIMED = "claimed"  # this replica sends it
    SENT = "sent"  # it already went out (another replica, or an earlier term)
    HELD = "held"  # claimed by another, neither sent nor timed out yet
    FENCED = "fenced"  # a newer leader exists: this replica must not send
    UNAVAILABLE = "unavailable"  # no answer from the database: send anyway (fail open)


@dataclass(frozen=True, slots=True)
class Claim:
    provider: str
    check: str
    destination: str
    reason: str
    severity: str
    since: datetime | None
    previous_at: datetime | None

    @property
    def key(self) -> str:
        parts = (
            self.provider,
            self.check,
            self.destination,
            self.reason,
            self.severity,
            _instant(self.since),
            _instant(self.previous_at),
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _instant(at: datetime | None) -> str:
    """The same text for the same instant, whatever time zone it was read back in and
    whatever precision the store kept: whole milliseconds UTC (the stores keep milliseconds,
    the replica that decided first had microseconds: a key from each must match)."""
    if at is None:
        return "-"
    return str((at - _EPOCH) // _MS)


# The lease row is named 'leader' (alertd.ha.lease.LEASE).
_CLAIM = """
WITH fence AS (
    SELECT coalesce((SELECT epoch FROM alertd_lease WHERE name = 'leader'), 0)
           <= %(epoch)s::bigint AS ok
)
INSERT INTO alertd_claims AS c
    (key, provider, check_name, destination, reason, severity, holder, epoch, claimed_at)
SELECT %(key)s, %(provider)s, %(check)s, %(destination)s, %(reason)s, %(severity)s,
       %(holder)s, %(epoch)s, now()
FROM fence WHERE fence.ok
ON CONFLICT (key) DO UPDATE SET
    holder = EXCLUDED.holder, epoch = EXCLUDED.epoch, claimed_at = now(),
    attempts = c.attempts + 1
WHERE c.sent_at IS NULL
  AND (c.claimed_at < now() - %(timeout)s
       OR (c.holder = EXCLUDED.holder AND c.epoch = EXCLUDED.epoch))
RETURNING key
"""

_WHY_NOT = """
SELECT (SELECT epoch FROM alertd_lease WHERE name = 'leader'),
       (SELECT sent_at IS NOT NULL FROM alertd_claims WHERE key = %(key)s)
"""

_MARK_SENT = "UPDATE alertd_claims SET sent_at = now() WHERE key = %(key)s AND sent_at IS NULL"

_RELEASE = """
DELETE FROM alertd_claims
WHERE key = %(key)s AND holder = %(holder)s AND epoch = %(epoch)s AND sent_at IS NULL
"""


class Claims:
    """Claiming on the store's pool; every call bounded by `op_timeout` seconds."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        holder: str,
        timeout: timedelta,
        op_timeout: float = OP_TIMEOUT_S,
    ) -> None:
        self.pool = pool
        self.holder = holder
        self.timeout = timeout
        self.op_timeout = op_timeout

    async def _run(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        async def run() -> list[tuple[Any, ...]]:
            async with self.pool.connection(timeout=self.op_timeout) as conn:
                cursor = await conn.execute(sql.encode(), params)
                rows = await cursor.fetchall() if cursor.description else []
                return [tuple(row) for row in rows]

        return await asyncio.wait_for(run(), self.op_timeout)

    async def claim(self, claim: Claim, epoch: int) -> Verdict:
        params = {
            "key": claim.key,
            "provider": claim.provider,
            "check": claim.check,
            "destination": claim.destination,
            "reason": claim.reason,
            "severity": claim.severity,
            "holder": self.holder,
            "epoch": epoch,
            "timeout": self.timeout,
        }
        try:
            if await self._run(_CLAIM, params):
                return Verdict.CLAIMED
            rows = await self._run(_WHY_NOT, {"key": claim.key})
        except (psycopg.Error, OSError, TimeoutError):
            return Verdict.UNAVAILABLE
        lease_epoch, sent = rows[0]
        if lease_epoch is not None and int(lease_epoch) > epoch:
            return Verdict.FENCED
        return Verdict.SENT if sent else Verdict.HELD

    async def mark_sent(self, claim: Claim) -> bool:
        """Records that it went out (whoever holds the claim now: it is a fact, not a
        decision, so a deposed leader's late mark is kept). False when the database did not
        answer."""
        try:
            await self._run(_MARK_SENT, {"key": claim.key})
        except (psycopg.Error, OSError, TimeoutError):
            return False
        return True

    async def release(self, claim: Claim, epoch: int) -> None:
        """Delivery gave up: the claim goes, so the next decision can claim it again."""
        params = {"key": claim.key, "holder": self.holder, "epoch": epoch}
        try:
            await self._run(_RELEASE, params)
        except (psycopg.Error, OSError, TimeoutError):
            return
