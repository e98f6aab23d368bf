"""The engine's gate under HA (`alertd.engine.Gate`): a notification goes out only from the
replica that is acting (leader, or failing open) and only once claimed (`alertd.ha.claims`).

    claimed       send it; marked sent after (or released when delivery gave up)
    already sent  recorded as delivered, not sent again (another replica, an earlier term)
    held          another replica is sending it: not now (the next poll decides again)
    fenced        a newer leader exists: this replica sends nothing
    unavailable   the database does not answer: send anyway (fail open, SPEC §7)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from alertd.core.step import Notification
from alertd.engine import Ticket
from alertd.ha.claims import Claim, Claims, Verdict
from alertd.ha.leadership import Leadership
from alertd.observability.logging import get_logger

COMMIT_WAIT_S = 5.0


class ClaimGate:
    def __init__(
        self,
        claims: Claims,
        leadership: Leadership,
        on_verdict: Callable[[str], None] = lambda verdict: None,
        committed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`on_verdict` counts each answer (a metric): claimed, sent, held, fenced,
        unavailable, standby (not acting), late (deposed during the claim).

        `committed` (the store's flush) runs before each claim: the state the decision was
        made from (when the condition began) is on record before the claim, so a leader that
        takes over decides from the same state, computes the same key and finds the claim,
        instead of deciding afresh from an older state under a new key."""
        self.claims = claims
        self.committed = committed
        self.leadership = leadership
        self.on_verdict = on_verdict
        self.log = get_logger()

    async def admit(
        self, provider: str, notification: Notification, previous_at: datetime | None
    ) -> Ticket:
        if not self.leadership.acting():
            return self._count(Ticket(go=False, why="this replica is not the leader"), "standby")
        claim = Claim(
            provider,
            notification.check,
            notification.destination.key,
            notification.reason.value,
            notification.severity.label,
            notification.since,
            previous_at,
        )
        if self.committed is not None:
            with contextlib.suppress(TimeoutError):  # bounded: a slow store never holds alerts
                await asyncio.wait_for(self.committed(), COMMIT_WAIT_S)
        epoch = self.leadership.epoch or 0
        verdict = await self.claims.claim(claim, epoch)
        if not self.leadership.acting():  # deposed while the claim was under way
            return self._count(Ticket(go=False, why="this replica is no longer the leader"), "late")
        if verdict is Verdict.CLAIMED:
            return self._count(Ticket(go=True, token=(claim, epoch)), verdict.value)
        if verdict is Verdict.UNAVAILABLE:
            self.log.warning(
                "notification_unclaimed",
                provider=provider,
                check=notification.check,
                why="the database does not answer: sending anyway (fail open)",
            )
            return self._count(Ticket(go=True), verdict.value)
        if verdict is Verdict.SENT:
            return self._count(
                Ticket(go=False, sent=True, why="already sent (claimed and marked sent)"),
                verdict.value,
            )
        why = {
            Verdict.HELD: "claimed by another replica",
            Verdict.FENCED: "a newer leader holds the lease",
        }[verdict]
        return self._count(Ticket(go=False, why=why), verdict.value)

    def _count(self, ticket: Ticket, verdict: str) -> Ticket:
        self.on_verdict(verdict)
        return ticket

    async def settle(self, ticket: Ticket, sent: bool) -> None:
        if ticket.token is None:  # sent unclaimed (fail open): nothing to mark
            return
        claim, epoch = ticket.token
        if sent:
            await self.claims.mark_sent(claim)
        else:
            await self.claims.release(claim, epoch)
