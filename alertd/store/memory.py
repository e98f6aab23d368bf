"""The store when no `store:` is set (SPEC §6): memory only, nothing survives a restart.

It keeps the alert state and a short history per provider, enough for a status page
sparkline, within a fixed bound whatever the interval, so that a thousand providers cost a
few megabytes: the last `RECENT` readings, and before them the latest reading of each
`SLOT` (3.5 hours) back to `MAX_AGE` (a week): dense where it is recent, still reaching back
days on a one-second interval. Top-ups, resets and notifications keep the latest
`MAX_ENTRIES`; summaries (`compact`) stay within the same week.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alertd.core.series import Event, Sample, Summary
from alertd.core.state import CheckState
from alertd.store.base import History, LogEntry, ProviderChecks, Record, StoreStatus
from alertd.store.rollup import HOUR, closing, hour_of, merged, summarize

RECENT = 48
MAX_AGE = timedelta(days=7)
SLOT = MAX_AGE / RECENT
MAX_SAMPLES = RECENT + MAX_AGE // SLOT + 1
MAX_ENTRIES = 64
MAX_SUMMARIES = 7 * 24


def _index(samples: list[Sample], moment: datetime) -> int:
    return bisect.bisect_left(samples, moment, key=lambda s: s.at)


@dataclass(slots=True)
class _Series:
    recent: list[Sample] = field(default_factory=list)  # oldest first
    older: list[Sample] = field(default_factory=list)  # one per SLOT, oldest first
    summaries: list[Summary] = field(default_factory=list)
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_ENTRIES))
    notifications: deque[LogEntry] = field(default_factory=lambda: deque(maxlen=MAX_ENTRIES))

    @property
    def samples(self) -> list[Sample]:
        return self.older + self.recent

    def add(self, sample: Sample) -> None:
        recent = self.recent
        index = _index(recent, sample.at)
        if index < len(recent) and recent[index].at == sample.at:
            recent[index] = sample  # the same instant again: the later one wins, as in SQLite
        else:
            recent.insert(index, sample)
        while len(recent) > RECENT:
            self._keep_older(recent.pop(0))
        horizon = recent[-1].at - MAX_AGE
        del self.older[: _index(self.older, horizon)]
        del recent[: _index(recent, horizon)]

    def _keep_older(self, sample: Sample) -> None:
        older = self.older
        if older and _slot(older[-1].at) == _slot(sample.at):
            older[-1] = sample  # the latest reading of its slot
        elif not older or sample.at > older[-1].at:
            older.append(sample)

    def fold(self, cutoff: datetime) -> int:
        """Samples before `cutoff` (an hour boundary) become hourly summaries."""
        old = self.samples[: _index(self.samples, cutoff)]
        if not old:
            return 0
        self.older = self.older[_index(self.older, cutoff) :]
        self.recent = self.recent[_index(self.recent, cutoff) :]
        first_hour = hour_of(old[0].at)
        before = next((s for s in reversed(self.summaries) if s.hour < first_hour), None)
        summaries = merged(self.summaries, summarize(old, closing(before) if before else None))
        horizon = cutoff - MAX_AGE
        self.summaries = [s for s in summaries if s.hour >= horizon][-MAX_SUMMARIES:]
        return len(old)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _slot(moment: datetime) -> int:
    return (moment - _EPOCH) // SLOT


class MemoryStore:
    """Writes apply at once (nothing to commit), so `flush` has nothing to wait for."""

    description = "memory"

    def __init__(self) -> None:
        self._checks: dict[str, dict[str, CheckState]] = {}
        self._series: dict[str, _Series] = {}

    async def open(self) -> list[str]:
        return []

    async def load_state(self) -> ProviderChecks:
        return {name: dict(checks) for name, checks in self._checks.items()}

    async def load_samples(self, since: Mapping[str, datetime]) -> dict[str, list[Sample]]:
        result = {}
        for name, start in since.items():
            series = self._series.get(name)
            samples = series.samples if series else []
            result[name] = samples[_index(samples, start) :]
        return result

    def submit(self, record: Record) -> None:
        name = record.provider
        if record.checks is not None:
            if record.checks:
                self._checks[name] = dict(record.checks)
            else:
                self._checks.pop(name, None)
        if record.sample is None and not record.events and not record.sent:
            return
        series = self._series.setdefault(name, _Series())
        if record.sample is not None:
            series.add(record.sample)
        series.events.extend(record.events)
        series.notifications.extend(record.sent)

    async def flush(self) -> None:
        return None

    async def history(
        self, provider: str, since: datetime, until: datetime | None = None
    ) -> History:
        series = self._series.get(provider)
        if series is None:
            return History(provider)

        def within(at: datetime) -> bool:
            return since <= at and (until is None or at <= until)

        return History(
            provider,
            samples=tuple(s for s in series.samples if within(s.at)),
            summaries=tuple(
                s
                for s in series.summaries
                if s.hour + HOUR > since and (until is None or s.hour <= until)
            ),
            events=tuple(sorted((e for e in series.events if within(e.at)), key=_at)),
            notifications=tuple(sorted((n for n in series.notifications if within(n.at)), key=_at)),
        )

    async def compact(self, now: datetime, retention: Mapping[str, timedelta]) -> int:
        folded = 0
        for name, keep in retention.items():
            series = self._series.get(name)
            if series is not None:
                folded += series.fold(hour_of(now - keep))
        return folded

    def status(self) -> StoreStatus:
        return StoreStatus(ok=True, extra={"kind": "memory"})

    async def close(self) -> None:
        return None


def _at(entry: Event | LogEntry) -> datetime:
    return entry.at
