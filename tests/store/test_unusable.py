"""A store alertd cannot use, as `alertd run` reports it: a missing or read-only directory
stops it at start with one line and exit 1 (no traceback, no poll); an old `state_file:`
config says what replaced it; a disk that fills up while alertd runs is logged and
survived: alerts still reach a real webhook, and the latest alert state is committed once
space is freed.

Read-only and full file systems are real ones, mounted in a private mount namespace
(`unshare -rm`: a user namespace, so no privilege is needed): a directory bind-mounted
read-only, and a 1 MiB tmpfs that a filler file fills to the last byte. The daemon runs
inside; the test reaches its tmpfs through /proc/PID/root. (`chmod` would not do: root,
which the test may run as, writes through it.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from support.daemon import ALERTD_RUN, DaemonProcess, SimulatorThread, wait_until, write_config
from support.http_stub import HttpStub

from store.daemon_support import query

pytestmark = pytest.mark.e2e

READ_ONLY = ["unshare", "-rm", "sh", "-c",
             'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
             "read-only"]  # fmt: skip
SMALL_TMPFS = ["unshare", "-rm", "sh", "-c",
               'mount -t tmpfs -o size=1m,mode=0700 alertd-full "$1" && shift && exec "$@"',
               "small-tmpfs"]  # fmt: skip


def _config(tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, store: str) -> Path:
    sim.account("wallet", "browser7", 15)
    return write_config(
        tmp_path / "config.yaml",
        {"wallet": sim.provider("wallet", warning=20, critical=5)},
        {"hook": webhook.apprise_url},
        store=store,
    )


def _run(config: Path, *wrapper: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTD_")}
    return subprocess.run(
        [*wrapper, *ALERTD_RUN, "-c", str(config), "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_a_missing_directory_is_one_line_and_exit_1(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub
) -> None:
    db = tmp_path / "no-such-dir" / "alertd.db"
    result = _run(_config(tmp_path, sim, webhook, f"sqlite://{db}"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"store sqlite://{db}: directory {db.parent} does not exist"
    )
    assert "Traceback" not in result.stderr
    assert '"event": "poll"' not in result.stderr  # stopped before the first poll
    assert sim.requests("wallet") == 0
    assert not db.parent.exists()


def test_a_read_only_directory_is_one_line_and_exit_1(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub
) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    db = directory / "alertd.db"
    result = _run(_config(tmp_path, sim, webhook, f"sqlite://{db}"), *READ_ONLY, str(directory))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"store sqlite://{db}: cannot write in directory {directory}: read-only file system"
    )
    assert "Traceback" not in result.stderr
    assert sim.requests("wallet") == 0
    assert list(directory.iterdir()) == []


def test_a_config_with_state_file_names_its_replacement(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "state_file: /var/lib/alertd/state.json\n"
        "providers:\n  wallet: {type: browser7, api_key: k, warning: 20}\n"
    )
    result = _run(config)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{config}: state_file: replaced by store: (e.g. store:"
        " sqlite:///var/lib/alertd/alertd.db); history and alert state now live there"
    ]


def _fill(path: Path) -> int:
    """Writes zeros to `path` until the file system is full; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as handle:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            with contextlib.suppress(OSError):
                while True:
                    written += handle.write(b"\0" * size)
    with pytest.raises(OSError, match="No space left on device"):  # full indeed
        path.with_name("probe").write_bytes(b"\0" * 4096)
    return written


def test_a_full_disk_is_logged_survived_and_caught_up(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub
) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    db = directory / "alertd.db"
    config = _config(tmp_path, sim, webhook, f"sqlite://{db}")
    daemon = DaemonProcess(config, tmp_path, wrapper=[*SMALL_TMPFS, str(directory)])
    try:
        daemon.start()
        assert daemon.proc is not None
        inside = Path(f"/proc/{daemon.proc.pid}/root") / directory.relative_to("/")
        daemon.wait_started(["wallet"])
        copies = tmp_path / "copies"
        wait_until(lambda: _sent(inside / "alertd.db", copies), 15, "the warning committed")
        assert not (directory / "alertd.db").exists()  # it is in the tmpfs, seen only inside

        filled = _fill(inside / "filler")
        sim.set("wallet", balance=Decimal(3))  # critical while the disk is full
        failed = daemon.wait_for("store_write_failed", timeout=15)[0]
        assert failed["level"] == "error"
        assert failed["error"] == "database or disk is full"
        critical = wait_until(
            lambda: [m for m in webhook.about("wallet") if m["type"] == "failure"],
            15,
            lambda: f"the critical alert despite the full disk:\n{daemon.tail()}",
        )
        assert critical[0]["title"].startswith("[CRITICAL] wallet: balance $3.00")
        daemon.wait_for_polls(["wallet"], 2)
        daemon.assert_running()
        assert _sent(inside / "alertd.db", copies) == "warning"  # not written: disk full

        (inside / "filler").unlink()
        (inside / "probe").unlink(missing_ok=True)
        recovered = daemon.wait_for("store_write_recovered", timeout=40)[0]
        assert recovered["failures"] >= 1
        wait_until(
            lambda: _sent(inside / "alertd.db", copies) == "critical",
            10,
            "the latest alert state committed once the disk had room",
        )
        print(f"\nfilled {filled} bytes; {recovered['failures']} failed writes before recovery")
        assert len([m for m in webhook.about("wallet") if m["type"] == "failure"]) == 1
        assert daemon.stop() == 0
    finally:
        daemon.close()


def _copy(db: Path, to: Path) -> Path:
    """A copy of the database and its WAL: SQLite resolves /proc/PID/root to the outside
    path, so the file in the daemon's tmpfs is read through a copy (retried if torn)."""
    to.mkdir(exist_ok=True)
    for suffix in ("", "-wal"):
        source = db.with_name(db.name + suffix)
        target = to / (db.name + suffix)
        target.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(source, target)
    return to / db.name


def _sent(db: Path, to: Path) -> str | None:
    """The severity the store holds as sent to the webhook for wallet's balance."""
    try:
        rows = query(
            _copy(db, to),
            "SELECT severity FROM sent WHERE provider = 'wallet' AND check_name = 'balance'",
        )
    except sqlite3.DatabaseError:  # copied while a commit was being written: next time
        return None
    return str(rows[0][0]) if rows else None
