"""PURE: is alertd alive, and is it ready? (SPEC §5)

Live: the scheduler runs. Ready (what `/healthz` reports): live, every provider has had its
first poll attempt (a success or a failure: either way there is something to show), and no
provider is stale beyond 3 intervals. A provider is stale when its last successful poll
(or, if it never had one, the daemon's start or its addition by a reload) is older than 3
of its intervals. Without the first-poll rule `/healthz` said 200 before any balance was
known, and a scrape right after start showed none (issue 8).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

STALE_INTERVALS = 3
SHOWN = 10  # providers named in a reason; the body lists them all


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reason: str
    stale: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    live: bool = True
    role: str | None = None  # HA replicas (SPEC §7): leader, standby or fail-open

    def body(self) -> dict[str, object]:
        starting = self.live and self.waiting and not self.stale
        status = "ok" if self.ok else "starting" if starting else "unhealthy"
        body: dict[str, object] = {
            "status": status,
            "reason": self.reason,
            "stale_providers": list(self.stale),
            "waiting_providers": list(self.waiting),
        }
        if self.role is not None:
            body["role"] = self.role
        return body

    def liveness(self) -> dict[str, object]:
        return {
            "status": "alive" if self.live else "stopped",
            "reason": "scheduler running" if self.live else self.reason,
        }


def _names(names: tuple[str, ...]) -> str:
    more = len(names) - SHOWN
    return ", ".join(names[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def assess(
    scheduler_running: bool,
    intervals: Mapping[str, timedelta],
    last_success: Mapping[str, datetime],
    watched_since: Mapping[str, datetime],
    now: datetime,
    unpolled: Collection[str] = (),
) -> Health:
    """`unpolled`: providers whose first poll has not been attempted yet."""
    if not scheduler_running:
        return Health(False, "scheduler is not running", live=False)
    stale = tuple(
        sorted(
            name
            for name, interval in intervals.items()
            if now - last_success.get(name, watched_since.get(name, now))
            > interval * STALE_INTERVALS
        )
    )
    if stale:
        return Health(
            False,
            f"no successful poll for over {STALE_INTERVALS} intervals: {_names(stale)}",
            stale,
        )
    waiting = tuple(sorted(name for name in unpolled if name in intervals))
    if waiting:
        return Health(
            False,
            f"waiting for the first poll of {len(waiting)} provider(s): {_names(waiting)}",
            waiting=waiting,
        )
    return Health(True, f"scheduler running, {len(intervals)} provider(s) fresh")
