"""The store (SPEC §6): readings, top-ups and resets, alert state and the notification log of
every provider, in one transactional place.

One small interface, several implementations: `memory` (no `store:` set: nothing survives a
restart), `sqlite` (embedded, one host) and `postgresql` (shared by HA replicas, SPEC §7).
The engine only ever sees this interface, so nothing SQLite-specific leaks into it:

* writes are *submitted* (`submit`, never blocks the event loop, bounded) and committed in
  batches off the loop; `flush` waits until everything submitted so far is committed;
* reads are `async` (`load_state`, `load_samples`, `history`);
* a store that cannot write keeps running: `status()` says what is wrong (health, metrics),
  and the submitted alert state is kept and written once the store works again, readings are
  dropped beyond a bound and counted.

Times are aware UTC datetimes; money is Decimal, stored losslessly (as text in SQLite,
`numeric` in PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from alertd.core.model import Severity
from alertd.core.series import Event, Sample, Summary
from alertd.core.state import CheckState, Reason

ProviderChecks = dict[str, dict[str, CheckState]]


class StoreError(Exception):
    """A store that cannot be used at all (at start): one line naming the store and the
    cause, never a password. `alertd run` prints it and exits 1."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One notification that went out: the notification log (append-only)."""

    provider: str
    check: str
    destination: str  # Destination.key
    reason: Reason
    severity: Severity
    at: datetime
    title: str


@dataclass(frozen=True, slots=True)
class Record:
    """What one provider's poll (or one delivery) changed, written in one transaction.

    `checks` is the full new set of the provider's checks when any changed (a snapshot:
    a later record of the same provider supersedes an earlier one not yet written).
    """

    provider: str
    sample: Sample | None = None
    events: tuple[Event, ...] = ()
    checks: Mapping[str, CheckState] | None = None
    sent: tuple[LogEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class History:
    """One provider's past, oldest first: raw samples within `history_retention`, hourly
    summaries before that, and the rises recorded as events."""

    provider: str
    samples: tuple[Sample, ...] = ()
    summaries: tuple[Summary, ...] = ()
    events: tuple[Event, ...] = ()
    notifications: tuple[LogEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """For `/healthz` and `/metrics`: `problem` is None while writes succeed."""

    ok: bool
    problem: str | None = None
    backlog: int = 0  # records submitted, not yet committed
    dropped: int = 0  # readings given up since start (the bound was reached while failing)
    write_errors: int = 0
    last_commit: datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


class Store(Protocol):
    """What alertd needs of a store. `description` names it for logs and errors: a URL
    without its password."""

    description: str

    async def open(self) -> list[str]:
        """Creates or migrates the schema. Returns problems worth a log line that did not
        stop it (a corrupt file set aside); raises StoreError when the store cannot be used
        (missing or read-only directory, a schema newer than this alertd knows)."""
        ...

    async def load_state(self) -> ProviderChecks:
        """Every provider's checks with their notification log, as last committed."""
        ...

    async def load_samples(self, since: Mapping[str, datetime]) -> dict[str, list[Sample]]:
        """For each provider named, its raw samples at or after its `since`, oldest first:
        what the burn tracker is rebuilt from at start (never the whole history)."""
        ...

    def submit(self, record: Record) -> None:
        """Queue a record for the next batch. Never blocks, never raises."""
        ...

    async def flush(self) -> None:
        """Returns once everything submitted before the call is committed (or failed)."""
        ...

    async def history(
        self, provider: str, since: datetime, until: datetime | None = None
    ) -> History:
        """One provider's samples, summaries, events and notifications in [since, until]."""
        ...

    async def compact(self, now: datetime, retention: Mapping[str, timedelta]) -> int:
        """Raw samples older than each provider's retention (`retention` by provider
        name) become hourly summaries; returns how many samples were folded."""
        ...

    def status(self) -> StoreStatus: ...

    async def close(self) -> None:
        """Commits what is queued (bounded wait), then releases the store."""
        ...
