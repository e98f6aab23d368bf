"""The SQLite store on real files: what survives a reopen, the schema's migration path, files
it must refuse or set aside, rows it must not trust, and writes that fail and recover."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

import alertd.store.sqlite.compact
import alertd.store.sqlite.store
from alertd.core.model import Severity
from alertd.core.state import CheckState, Sent
from alertd.store import open_store
from alertd.store.base import Record, StoreError
from alertd.store.rollup import summarize
from alertd.store.sqlite import SqliteStore
from alertd.store.sqlite.rows import to_ms
from alertd.store.sqlite.schema import SCHEMA_VERSION, migrate
from store.conftest import NOW
from store.data import OPS, T0, at, checks, logged, sample, topup


def sqlite_store(path: Path) -> SqliteStore:
    store = open_store(f"sqlite://{path}", lambda: NOW)
    assert isinstance(store, SqliteStore)
    return store


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


async def test_everything_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "alertd.db"
    first = sqlite_store(path)
    await first.open()
    first.submit(Record("wallet", sample=sample(0, "15.00"), checks=checks()))
    first.submit(Record("wallet", sample=sample(1, "14.99"), events=(topup(1, "1", "14.99"),)))
    first.submit(Record("wallet", sent=(logged("wallet", 1),)))
    await first.close()  # commits what is queued

    second = sqlite_store(path)
    assert await second.open() == []
    assert await second.load_state() == {"wallet": checks()}
    history = await second.history("wallet", T0)
    assert history.samples == (sample(0, "15.00"), sample(1, "14.99"))
    assert history.events == (topup(1, "1", "14.99"),)
    assert history.notifications == (logged("wallet", 1),)
    await second.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_version_1_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "alertd.db"
    with sqlite3.connect(path, isolation_level=None) as conn:
        migrate(conn, target=1)  # what the first release created
        conn.execute(
            "INSERT INTO readings VALUES ('wallet', ?, '15.00', 'USD', NULL)", (to_ms(T0),)
        )
        conn.execute(
            "INSERT INTO checks VALUES ('wallet', 'balance', 'warning', 'below', ?, 0)",
            (to_ms(T0),),
        )
        conn.execute(
            "INSERT INTO sent VALUES ('wallet', 'balance', ?, 'warning', ?)", (OPS, to_ms(T0))
        )
    conn.close()
    assert user_version(path) == 1

    store = sqlite_store(path)
    with capture_logs() as logs:
        assert await store.open() == []
    assert [e for e in logs if e["event"] == "store_migrated"] == [
        {"event": "store_migrated", "from_version": 1, "to_version": 2, "log_level": "info",
         "store": store.description}
    ]  # fmt: skip
    assert await store.load_state() == {
        "wallet": {
            "balance": CheckState(
                Severity.WARNING, "below", T0, sent={OPS: Sent(Severity.WARNING, T0)}
            )
        }
    }
    store.submit(Record("wallet", events=(topup(5, "10", "25"),), sent=(logged("wallet", 5),)))
    await store.flush()
    history = await store.history("wallet", T0)
    assert history.samples == (sample(0, "15.00"),)
    assert history.events == (topup(5, "10", "25"),)  # version 2's tables
    await store.close()
    assert user_version(path) == SCHEMA_VERSION == 2


async def test_a_database_of_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "alertd.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as error:
        await sqlite_store(path).open()
    assert str(error.value) == (
        f"store sqlite://{path}: the database has schema version 3, newer than this alertd"
        " knows (2): upgrade alertd, or point store: at another file"
    )
    assert path.read_bytes() == before


async def test_someone_elses_database_is_refused_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name)")
    conn.close()
    with pytest.raises(StoreError, match=r"a SQLite database but not alertd's \(tables: users\)"):
        await sqlite_store(path).open()


async def test_a_corrupt_file_is_set_aside_and_the_store_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "alertd.db"
    garbage = b"\x00\x9cnot a database\xde\xad\xbe\xef" * 100
    path.write_bytes(garbage)
    store = sqlite_store(path)
    problems = await store.open()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("alertd.db.corrupt-")]
    assert [p.name for p in aside] == ["alertd.db.corrupt-20260401T000000Z"]
    assert aside[0].read_bytes() == garbage  # the evidence, as it was
    assert problems == [
        f"store sqlite://{path} is corrupt (file is not a database); set aside as"
        " alertd.db.corrupt-20260401T000000Z, starting with an empty store"
    ]
    store.submit(Record("wallet", checks=checks()))
    await store.close()
    assert aside[0].read_bytes() == garbage
    reopened = sqlite_store(path)
    assert await reopened.open() == []
    assert await reopened.load_state() == {"wallet": checks()}
    await reopened.close()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("fifo", "is not a regular file (a FIFO)"),
        ("dev-zero", "is not a regular file (a character device)"),
        ("directory", "is not a regular file (a directory)"),
        ("missing-directory", "does not exist"),
    ],
)
async def test_a_path_that_cannot_be_a_database_is_refused_at_once(
    tmp_path: Path, kind: str, reason: str
) -> None:
    path = {
        "fifo": tmp_path / "alertd.db",
        "dev-zero": Path("/dev/zero"),
        "directory": tmp_path / "alertd.db",
        "missing-directory": tmp_path / "gone" / "alertd.db",
    }[kind]
    if kind == "fifo":
        os.mkfifo(path)
    if kind == "directory":
        path.mkdir()
    started = time.monotonic()
    with pytest.raises(StoreError) as error:
        await sqlite_store(path).open()
    assert time.monotonic() - started < 5  # never blocked on the FIFO or /dev/zero
    assert reason in str(error.value)
    assert str(error.value).startswith(f"store sqlite://{path}: ")
    assert "\n" not in str(error.value)
    if kind == "fifo":
        assert path.exists()  # refused, never renamed: not ours to move


async def test_rows_alertd_would_not_write_are_left_out_and_decided_afresh(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alertd.db"
    store = sqlite_store(path)
    await store.open()
    store.submit(Record("good", checks=checks()))
    store.submit(Record("forged", checks=checks()))
    await store.close()
    future = to_ms(datetime(2099, 1, 1, tzinfo=UTC))  # reminders would wait 73 years
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE sent SET at = ? WHERE provider = 'forged' AND destination = ?",
                     (future, OPS))  # fmt: skip
        conn.execute("UPDATE checks SET failures = -1000 WHERE provider = 'forged'"
                     " AND check_name = 'fetch'")  # fmt: skip
        conn.execute("UPDATE checks SET severity = 'fatal' WHERE provider = 'forged'"
                     " AND check_name = 'unpaid_bill'")  # fmt: skip
        conn.execute("UPDATE sent SET severity = 'ok' WHERE provider = 'forged'"
                     " AND destination != ?", (OPS,))  # fmt: skip
    conn.close()

    reopened = sqlite_store(path)
    await reopened.open()
    with capture_logs() as logs:
        state = await reopened.load_state()
    await reopened.close()
    assert state["good"] == checks()
    assert set(state["forged"]) == {"balance"}  # fetch and unpaid_bill left out
    assert state["forged"]["balance"].sent == {}  # both entries left out: sent again
    problems = sorted(e["problem"] for e in logs if e["event"] == "store_state_ignored")
    assert problems == [
        "forged.balance.oncall:ba9876543210: sent.severity is not a severity alertd writes;"
        " left out, so this alert is sent again",
        "forged.balance.ops:0123456789ab: sent.at is in the future (2099-01-01 00:00:00 UTC);"
        " left out, so this alert is sent again",
        "forged.fetch: failures is not a whole number from 0 to 10^9; left out, decided afresh",
        "forged.unpaid_bill: severity is not a severity alertd writes; left out, decided afresh",
    ]


async def test_compaction_in_small_batches_gives_the_same_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches end on whole hours: a batch boundary never splits an hour's summary, and one
    hour larger than a batch is folded whole."""
    monkeypatch.setattr(alertd.store.sqlite.compact, "BATCH", 7)
    readings = [sample(m, str(1000 - m % 97 - m // 3)) for m in range(0, 300, 2)]
    readings += [sample(300 + s / 60, str(500 - s)) for s in range(30)]  # 30 in one hour
    store = sqlite_store(tmp_path / "alertd.db")
    await store.open()
    for reading in readings:
        store.submit(Record("wallet", sample=reading))
    await store.flush()
    assert await store.compact(at(hours=12), {"wallet": timedelta(hours=1)}) == len(readings)
    history = await store.history("wallet", T0)
    await store.close()
    assert history.samples == ()
    assert list(history.summaries) == summarize(readings)


async def test_a_failing_write_is_reported_retried_and_the_latest_state_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock (an operator's `sqlite3` shell in a
    transaction): writes fail, history beyond the bound is dropped and counted, the
    status says why, and once the lock goes the newest alert state is committed."""
    monkeypatch.setattr(alertd.store.sqlite.store, "BUSY_TIMEOUT", 0.2)
    monkeypatch.setattr(alertd.store.sqlite.store, "RETRY_FIRST", 0.1)
    path = tmp_path / "alertd.db"
    store = SqliteStore(path, "sqlite-under-test", lambda: NOW, backlog=10)
    await store.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    with capture_logs() as logs:
        for minute in range(30):
            store.submit(Record("wallet", sample=sample(minute, str(100 - minute))))
            store.submit(Record("wallet", checks=checks(f"generation {minute}")))
        await store.flush()
        status = store.status()
        assert not status.ok
        assert status.problem is not None
        assert status.problem.startswith("writing failed: database is locked (since ")
        assert status.write_errors >= 1
        assert status.dropped >= 19  # 30 readings, 10 kept waiting (+1 in flight)
        assert status.backlog == 11  # 10 readings and one provider's latest checks
        blocker.execute("ROLLBACK")
        blocker.close()
        deadline = time.monotonic() + 10
        while not store.status().ok and time.monotonic() < deadline:
            await store.flush()
    await store.close()
    failed = [e for e in logs if e["event"] == "store_write_failed"]
    assert failed
    assert failed[0]["error"] == "database is locked"
    assert failed[0]["log_level"] == "error"
    assert [e["event"] for e in logs if e["event"] == "store_write_recovered"]

    reopened = sqlite_store(path)
    await reopened.open()
    assert await reopened.load_state() == {"wallet": checks("generation 29")}
    kept = (await reopened.history("wallet", T0)).samples
    assert kept[-10:] == tuple(sample(m, str(100 - m)) for m in range(20, 30))
    await reopened.close()
