"""SIGKILL while the SQLite store writes (SPEC §6): the file is never corrupt, and every
reading the writer reported committed is there after the kill.

A real process submits readings and alert state for 50 providers in a loop, as fast as the
writer thread commits them, flushing every few generations and printing the generations it
knows committed; it is killed with SIGKILL at random moments, many times, each run resuming
on the same file. After each kill: `PRAGMA integrity_check` is ok, no file was set aside,
and every generation reported committed is there for every provider.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from alertd.store.sqlite.rows import to_ms
from store.data import T0

pytestmark = pytest.mark.fault

PROVIDERS = 50
WRITER = """
import asyncio, itertools, sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from alertd.core.model import Severity
from alertd.core.series import Sample
from alertd.core.state import CheckState, Sent
from alertd.observability import logging as logs
from alertd.store.base import Record
from alertd.store.sqlite import SqliteStore

logs.configure("json")  # log lines go to stderr; stdout is for the test
path, start, providers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

async def main():
    store = SqliteStore(path, "crash-test", lambda: datetime(2027, 1, 1, tzinfo=UTC))
    problems = await store.open()
    print("ready", *problems, flush=True)
    for generation in itertools.count(start):
        at = T0 + timedelta(seconds=generation)
        for index in range(providers):
            checks = {"balance": CheckState(Severity.WARNING, f"generation {generation}", at,
                                            sent={"hook:0123456789ab": Sent(Severity.WARNING, at)})}
            store.submit(Record(f"provider-{index:03d}", checks=checks,
                                sample=Sample(at, Decimal(generation), "USD")))
        if generation % 4 == 3:
            await store.flush()
            if store.status().ok:
                print("committed", generation, flush=True)
        else:
            await asyncio.sleep(0)

asyncio.run(main())
"""


def _generations(db: Path) -> dict[int, int]:
    """Generation -> how many providers have its reading."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT at, count(*) FROM readings GROUP BY at").fetchall()
    return {(at - to_ms(T0)) // 1000: count for at, count in rows}


def _integrity(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_sigkill_while_writing_never_corrupts_and_keeps_what_was_committed(
    tmp_path: Path,
) -> None:
    db = tmp_path / "alertd.db"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    start, kills, committed_total = 0, 12, 0
    for kill in range(kills):
        log = tmp_path / f"writer-{kill}.log"
        with log.open("w") as errors:
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(db), str(start), str(PROVIDERS)],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        assert writer.stdout is not None
        try:
            ready = writer.stdout.readline()
            time.sleep(rng.uniform(0.05, 0.6))
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=10)
        assert ready == "ready\n", f"seed {seed}: {ready!r} {log.read_text()}"
        assert writer.returncode == -signal.SIGKILL
        reported = [int(line.split()[1]) for line in writer.stdout if line.startswith("committed")]
        writer.stdout.close()

        assert _integrity(db) == "ok", f"seed {seed}, kill {kill}"
        assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
        found = _generations(db)
        if reported:
            missing = [g for g in range(start, max(reported) + 1) if found.get(g) != PROVIDERS]
            assert missing == [], f"seed {seed}, kill {kill}: reported committed, not there"
            committed_total += max(reported) + 1 - start
        start = max(found, default=-1) + 1
    print(f"\nseed {seed}: {kills} kills, {committed_total} generations reported committed")
    assert committed_total > kills  # the writer got going every time, more or less
