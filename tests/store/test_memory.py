"""The memory store's bound: a fixed number of readings per provider whatever the interval,
the latest ones all kept, older ones one per slot back to a week; top-ups and notifications
keep the latest few. (Its bytes at 1,000 providers: bench/store.py.)"""

from __future__ import annotations

import itertools

from alertd.store.base import Record
from alertd.store.memory import MAX_AGE, MAX_ENTRIES, MAX_SAMPLES, RECENT, SLOT, MemoryStore
from store.data import T0, at, logged, sample, topup


async def test_a_week_of_minute_readings_stays_within_the_bound_and_reaches_back() -> None:
    store = MemoryStore()
    minutes = 10 * 24 * 60  # ten days, one reading a minute
    for minute in range(minutes):
        store.submit(Record("wallet", sample=sample(minute, str(100_000 - minute))))
    kept = (await store.history("wallet", T0)).samples
    newest = at(minutes - 1)
    assert len(kept) <= MAX_SAMPLES
    assert kept[-1] == sample(minutes - 1, str(100_000 - minutes + 1))
    assert kept[0].at >= newest - MAX_AGE  # never older than a week
    assert kept[0].at <= newest - MAX_AGE + SLOT  # reaching back a week, not an hour
    assert list(kept) == sorted(kept, key=lambda s: s.at)
    assert kept[-RECENT:] == tuple(  # the latest readings all there
        sample(m, str(100_000 - m)) for m in range(minutes - RECENT, minutes)
    )
    gaps = [b.at - a.at for a, b in itertools.pairwise(kept[: 1 - RECENT])]
    assert max(gaps) <= 2 * SLOT  # older ones spread over the week


async def test_top_ups_and_notifications_keep_the_latest() -> None:
    store = MemoryStore()
    for minute in range(200):
        store.submit(Record("wallet", events=(topup(minute, "1", "2"),)))
        store.submit(Record("wallet", sent=(logged("wallet", minute),)))
    history = await store.history("wallet", T0)
    assert [e.at for e in history.events] == [at(m) for m in range(200 - MAX_ENTRIES, 200)]
    assert [n.at for n in history.notifications] == [at(m) for m in range(200 - MAX_ENTRIES, 200)]
