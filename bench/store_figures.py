"""alertd store benchmark: what the store costs, with figures (never asserted by a test).

    python bench/store_figures.py [--providers 1000] [--days 365] [--retention 90]

Prints:
  1. SQLite write cost per reading, batched as the writer thread commits them: the event
     loop's share (`submit`) and the whole process's CPU (loop + writer thread);
  2. a year of hourly history for N providers (raw readings for `--retention` days, hourly
     summaries before, alert state): the first compaction, the file size per provider,
     and alertd's start-up on it: open (schema check, quick_check) + load_state +
     load_samples of a 7-day window for every provider;
  3. the memory store (no `store:`) full at N providers: bytes held (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from alertd.core.model import Severity
from alertd.core.series import Sample
from alertd.core.state import CheckState, Sent
from alertd.store.base import Record
from alertd.store.memory import MemoryStore
from alertd.store.sqlite import SqliteStore
from alertd.store.sqlite.rows import sample_row

END = datetime(2026, 11, 1, tzinfo=UTC)
WEEK = timedelta(days=7)


def name(index: int) -> str:
    return f"provider-{index:04d}"


def checks(at: datetime) -> dict[str, CheckState]:
    sent = {"ops:0123456789ab": Sent(Severity.WARNING, at)}
    return {
        "balance": CheckState(
            Severity.WARNING, "balance $15.00 below warning $20.00", at, sent=sent
        ),
        "runway": CheckState(Severity.OK, "runs out in ~40 days", at),
        "fetch": CheckState(Severity.OK, "checked successfully", at),
    }


def amount(index: int, hour: int) -> Decimal:
    """A balance that drains and is topped up now and then, with cents."""
    return Decimal(10_000 - (hour * (index % 7 + 1)) % 9_000) + Decimal(index % 100) / 100


def cpu() -> float:
    return time.process_time()


async def write_cost(directory: Path, providers: int, polls: int) -> dict[str, float]:
    store = SqliteStore(directory / "write.db", "bench-write")
    await store.open()
    readings = providers * polls
    start = END - timedelta(minutes=polls)
    loop_cpu, wall, total = 0.0, time.perf_counter(), cpu()
    for poll in range(polls):
        at = start + timedelta(minutes=poll)
        began = cpu()
        for index in range(providers):
            sample = Sample(at, amount(index, poll), "USD")
            changed = checks(at) if poll % 50 == 0 else None  # state changes now and then
            store.submit(Record(name(index), sample=sample, checks=changed))
        loop_cpu += cpu() - began
        await asyncio.sleep(0)  # the loop goes on; the writer commits beside it
    await store.flush()
    wall, total = time.perf_counter() - wall, cpu() - total
    # The other end: one reading per transaction (a quiet fleet, each poll committed alone).
    alone, began = 2000, cpu()
    for poll in range(alone):
        at = END + timedelta(seconds=poll)
        store.submit(Record(name(poll % providers), sample=Sample(at, Decimal(poll), "USD")))
        await store.flush()
    single = cpu() - began
    await store.close()
    return {
        "readings": readings,
        "submit_us": loop_cpu / readings * 1e6,
        "cpu_us": total / readings * 1e6,
        "wall_us": wall / readings * 1e6,
        "alone_us": single / alone * 1e6,
    }


def hourly_rows(providers: int, days: int) -> Iterator[tuple[object, ...]]:
    hours = days * 24
    first = END - timedelta(hours=hours)
    for index in range(providers):
        for hour in range(hours):
            sample = Sample(first + timedelta(hours=hour), amount(index, hour), "USD")
            yield sample_row(name(index), sample)


async def year_of_history(directory: Path, providers: int, days: int, retention: int) -> None:
    path = directory / "year.db"
    store = SqliteStore(path, "bench-year", lambda: END)
    await store.open()
    for index in range(providers):
        store.submit(Record(name(index), checks=checks(END - timedelta(hours=1))))
    await store.close()
    began = time.perf_counter()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO readings VALUES (?, ?, ?, ?, ?)", hourly_rows(providers, days)
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    count = providers * days * 24
    print(f"  filled {count:,} hourly readings in {time.perf_counter() - began:.1f} s")
    raw_size = path.stat().st_size

    store = SqliteStore(path, "bench-year", lambda: END)
    await store.open()
    began = time.perf_counter()
    keep = {name(i): timedelta(days=retention) for i in range(providers)}
    folded = await store.compact(END, keep)
    compacting = time.perf_counter() - began
    await store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    size = path.stat().st_size

    timings = []
    for _ in range(3):
        store = SqliteStore(path, "bench-year", lambda: END)
        began = time.perf_counter()
        await store.open()
        opened = time.perf_counter()
        state = await store.load_state()
        loaded = time.perf_counter()
        samples = await store.load_samples({name(i): END - WEEK for i in range(providers)})
        done = time.perf_counter()
        await store.close()
        timings.append((done - began, opened - began, loaded - opened, done - loaded))
    total, opening, state_s, samples_s = min(timings)
    in_window = sum(len(v) for v in samples.values())
    print(f"  first compaction: {folded:,} readings folded in {compacting:.1f} s"
          f" ({folded / compacting:,.0f} per s)")  # fmt: skip
    summaries = _count(path, "summaries")
    per_reading = raw_size / count
    per_summary = (size - (count - folded) * per_reading) / max(summaries, 1)
    print(f"  about {per_reading:.0f} bytes per raw reading, {per_summary:.0f} per hourly summary")
    print(f"  file: {raw_size / 2**20:.1f} MiB raw for {days} days, {size / 2**20:.1f} MiB after"
          f" ({retention} days raw + summaries), {size / providers / 1024:.0f} KiB per provider"
          f" for {days} days")  # fmt: skip
    print(f"  start-up (best of 3): {total:.2f} s = open {opening:.2f} s + load_state"
          f" {state_s:.2f} s ({len(state):,} providers) + load_samples 7 days {samples_s:.2f} s"
          f" ({in_window:,} readings)")  # fmt: skip


def _count(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def memory_store(providers: int, polls: int) -> None:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MemoryStore()
    start = END - timedelta(minutes=polls)
    for poll in range(polls):
        at = start + timedelta(minutes=poll)
        for index in range(providers):
            capacity = Decimal(25_000) if index % 3 == 0 else None
            sample = Sample(at, amount(index, poll), "USD", capacity)
            store.submit(
                Record(name(index), sample=sample, checks=checks(at) if poll == 0 else None)
            )
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"  {providers} providers after {polls} polls each: {held / 2**20:.1f} MiB"
          f" ({held / providers / 1024:.1f} KiB per provider)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--retention", type=int, default=90)
    parser.add_argument("--polls", type=int, default=200, help="per provider, write cost run")
    args = parser.parse_args()
    print(f"SQLite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="alertd-bench-store-") as tmp:
        directory = Path(tmp)
        print(f"1. write cost, {args.providers} providers x {args.polls} polls (batched):")
        cost = asyncio.run(write_cost(directory, args.providers, args.polls))
        print(f"  {cost['readings']:,} readings: submit (event loop) {cost['submit_us']:.1f} us,"
              f" process CPU {cost['cpu_us']:.1f} us, wall {cost['wall_us']:.1f} us"
              " per reading")  # fmt: skip
        print(f"  one reading per transaction: process CPU {cost['alone_us']:.0f} us per reading")
        print(f"2. {args.days} days of hourly history, {args.providers} providers:")
        asyncio.run(year_of_history(directory, args.providers, args.days, args.retention))
    print("3. memory store (no store: set):")
    memory_store(args.providers, 400)


if __name__ == "__main__":
    main()
