"""What was submitted to a store and is not committed yet: the hand-over between the event
loop (`put`, never blocks for more than a dict and a deque operation) and a writer thread
(`take` a batch, commit it, `done`; or `restore` it when the commit failed).

Bounded, with two rules:
* alert state coalesces: each provider's latest checks snapshot replaces any earlier one
  still waiting, so it always survives, whatever the bound, and is written once the store
  works again;
* history (readings, top-ups, notifications) is kept up to `limit` records; beyond, the
  oldest are given up and counted in `dropped`.

`flush` waiters are told when everything submitted before they asked has been attempted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from alertd.core.state import CheckState
from alertd.store.base import Record


@dataclass(slots=True)
class Batch:
    checks: dict[str, Mapping[str, CheckState]] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)  # history only (checks taken out)
    upto: int = 0  # the sequence number of the last record submitted before the take

    def __bool__(self) -> bool:
        return bool(self.checks or self.records)


class Backlog:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.condition = threading.Condition()
        self.dropped = 0
        self._checks: dict[str, Mapping[str, CheckState]] = {}
        self._records: deque[Record] = deque()
        self._submitted = 0
        self._attempted = 0
        self._waiters: list[tuple[int, Callable[[], None]]] = []

    def put(self, record: Record) -> None:
        history = record.sample is not None or bool(record.events or record.sent)
        if record.checks is None and not history:
            return
        with self.condition:
            self._submitted += 1
            if record.checks is not None:
                self._checks[record.provider] = record.checks
            if history:
                self._records.append(replace(record, checks=None))
                self._trim()
            self.condition.notify()

    def _trim(self) -> None:
        while len(self._records) > self.limit:
            self._records.popleft()
            self.dropped += 1

    def __len__(self) -> int:
        return len(self._checks) + len(self._records)

    def take(self) -> Batch:
        """Everything waiting, as one batch (empty when nothing waits). Call with the
        condition held, or not: it takes the lock itself."""
        with self.condition:
            batch = Batch(self._checks, list(self._records), self._submitted)
            self._checks = {}
            self._records.clear()
            return batch

    def restore(self, batch: Batch) -> None:
        """A batch that could not be committed goes back: its snapshots unless a newer one
        came meanwhile, its history ahead of what came since (the oldest beyond the bound
        are dropped)."""
        with self.condition:
            for provider, checks in batch.checks.items():
                self._checks.setdefault(provider, checks)
            self._records.extendleft(reversed(batch.records))
            self._trim()

    def done(self, batch: Batch) -> None:
        """The batch was attempted (committed, or failed and restored): wake its flushers."""
        with self.condition:
            self._attempted = max(self._attempted, batch.upto)
            ready = [w for w in self._waiters if w[0] <= self._attempted]
            self._waiters = [w for w in self._waiters if w[0] > self._attempted]
        for _, wake in ready:
            wake()

    def wait_for_attempt(self, wake: Callable[[], None]) -> bool:
        """Registers `wake` to be called once everything submitted so far was attempted;
        False (and no call) when that is already the case."""
        with self.condition:
            if self._attempted >= self._submitted:
                return False
            self._waiters.append((self._submitted, wake))
            return True

    def release_waiters(self) -> None:
        """The writer stops: nobody is left waiting for it."""
        with self.condition:
            waiters, self._waiters = self._waiters, []
        for _, wake in waiters:
            wake()
