"""PURE: is alertd healthy? (SPEC §5) Scheduler running and no provider stale beyond
3 intervals. A provider is stale when its last successful poll (or, if it never had one,
the daemon's start or its addition by a reload) is older than 3 of its intervals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

STALE_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reason: str
    stale: tuple[str, ...] = ()

    def body(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "unhealthy",
            "reason": self.reason,
            "stale_providers": list(self.stale),
        }


def assess(
    scheduler_running: bool,
    intervals: Mapping[str, timedelta],
    last_success: Mapping[str, datetime],
    watched_since: Mapping[str, datetime],
    now: datetime,
) -> Health:
    if not scheduler_running:
        return Health(False, "scheduler is not running")
    stale = tuple(
        sorted(
            name
            for name, interval in intervals.items()
            if now - last_success.get(name, watched_since.get(name, now))
            > interval * STALE_INTERVALS
        )
    )
    if stale:
        shown = ", ".join(stale[:10]) + (f" and {len(stale) - 10} more" if len(stale) > 10 else "")
        return Health(
            False, f"no successful poll for over {STALE_INTERVALS} intervals: {shown}", stale
        )
    return Health(True, f"scheduler running, {len(intervals)} provider(s) fresh")
