"""Hostile config and state files (issue 8): `alertd validate`, `check --json` and the daemon
as subprocesses, against files that used to hang, exhaust memory, crash every start, or be
silently half-read.

Figures the issue measured on the old code: `validate` on a 484-byte billion-laughs file ran
209 s to 8 GB (a 7-level bomb: 20 s, 848 MiB); a reload reading `api_key_file` from a FIFO
never finished, dropped every later SIGHUP and kept the process alive after SIGTERM; a state
file with `Infinity`, `1e400` or deep nesting made every start exit 70. The state file is
gone (issue 10): its guarantees hold for the store's database (a damaged file is set aside,
forged alert state never suppresses an alert).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from store.daemon_support import query
from support.cli import run_alertd
from support.daemon import (
    SimulatorThread,
    StartDaemon,
    daemons,
    wait_until,
    write_config,
    write_text,
)
from support.http_stub import HttpStub

from alertd.providers import PRESETS

from .config_state_support import billion_laughs, run_measured

SENTINEL = "SENTINELKEY7f3a9c"  # an API key that must never be shown


def validate(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_alertd("validate", "-c", str(path), cwd=tmp_path, env=env, timeout=30)
    assert "Traceback" not in result.output, result
    assert "internal error" not in result.output, result
    assert SENTINEL not in result.output
    return result


NOTIFIER = "notifiers:\n  ops: json://127.0.0.1:9/hook\n"


# -- bounded loading ------------------------------------------------------------------------------


def test_billion_laughs_is_refused_in_a_moment_with_little_memory(tmp_path: Path) -> None:
    for levels in (7, 9):  # 10 million, then a billion strings; the 9-level file is 479 bytes
        path = tmp_path / f"bomb{levels}.yaml"
        path.write_text(billion_laughs(levels), encoding="utf-8")
        result = run_measured("validate", "-c", str(path), cwd=tmp_path, timeout=30)
        # before: 7 levels took 20 s and 848 MiB; 9 levels, 209 s and 8 GB
        assert result.code == 1, result
        assert result.seconds < 10, result.seconds
        assert result.peak_rss_mib < 150, result.peak_rss_mib
        [line] = result.stderr.splitlines()
        assert line.startswith(f"{path}: line "), line
        assert line.endswith(": aliases expand the document beyond 200,000 values; refused"), line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &a [*a]\n", "line 1: an alias refers to itself"),
        ("providers: " + "[" * 100_000 + "\n", "nested more than 64 levels deep"),
        ("providers:\n" + "".join(" " * i + "k:\n" for i in range(1, 100)), "nested more than"),
    ],
    ids=["recursive-alias", "100k-flow-levels", "100-block-levels"],
)
def test_recursive_or_deeply_nested_yaml_is_one_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    result = validate(tmp_path, text)
    assert result.code == 1
    assert len(result.stderr.splitlines()) == 1, result
    assert expected in result.stderr, result


def test_config_file_that_is_not_a_regular_file_or_too_big_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 110_000, encoding="utf-8")  # 1.05 MiB
    cases = {fifo: "not a regular file (a FIFO)", Path("/dev/zero"): "(a character device)"}
    cases[big] = "larger than 1 MiB"
    for path, reason in cases.items():
        result = run_measured("validate", "-c", str(path), cwd=tmp_path, timeout=20)
        assert result.code == 1, (path, result)  # before: the FIFO blocked for ever
        assert result.stderr.strip() == f"{path}: cannot read config file: {reason}" or (
            reason in result.stderr and result.stderr.count("\n") == 1
        ), result.stderr
        assert result.peak_rss_mib < 150


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "big"])
def test_api_key_file_is_read_only_from_a_small_regular_file(tmp_path: Path, target: str) -> None:
    if target == "fifo":
        key = tmp_path / "key.fifo"
        os.mkfifo(key)
        reason = "not a regular file (a FIFO)"
    elif target == "big":
        key = tmp_path / "key.txt"
        key.write_text(SENTINEL * 5000, encoding="utf-8")  # 85 KB
        reason = "larger than 64 KiB (83.0 KiB)"
    else:
        key, reason = Path(target), "not a regular file (a character device)"
    config = NOTIFIER + f"providers:\n  lob:\n    type: lobstr\n    api_key_file: {key}\n"
    path = tmp_path / "config.yaml"
    path.write_text(config + "    warning: 10\n", encoding="utf-8")
    result = run_measured("validate", "-c", str(path), cwd=tmp_path, timeout=20)
    assert result.code == 1, result  # before: the FIFO hung, /dev/zero read until killed
    assert result.stderr.splitlines() == [
        f"{path}: provider 'lob': api_key_file: cannot read {key}: {reason}"
    ]
    assert result.peak_rss_mib < 150
    assert SENTINEL not in result.stderr


# -- what a new user hits -------------------------------------------------------------------------


def test_a_key_or_provider_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    text = (
        NOTIFIER
        + "providers:\n"  # line 3
        + "  billing:\n"  # line 4
        + "    type: browser7\n"
        + "    api_key: k1\n"
        + "    warning: 20\n"  # line 7
        + "    critical: 5\n"
        + "    warning: 50\n"  # line 9
        + "  billing:\n"  # line 10: the first account would no longer be watched
        + "    type: youcom\n"
        + "    api_key: k2\n"
        + "    warning: 20\n"
    )
    result = validate(tmp_path, text)
    assert result.code == 1
    path = tmp_path / "config.yaml"
    assert result.stderr.splitlines() == [
        f"{path}: line 4 and line 10: providers: 'billing' is given twice; only the last would"
        " count, remove one",
        f"{path}: line 7 and line 9: providers.billing: 'warning' is given twice; only the last"
        " would count, remove one",
    ]


def test_a_config_that_alerts_nobody_validates_with_warnings(tmp_path: Path) -> None:
    text = "providers:\n  quiet:\n    type: browser7\n    api_key: k\n"
    result = validate(tmp_path, text)
    assert result.code == 0
    path = tmp_path / "config.yaml"
    assert result.stderr.splitlines() == [
        f"{path}: warning: no notifiers configured: alerts are only written to the log, nobody"
        " is notified",
        f"{path}: warning: provider 'quiet': no warning or critical threshold: its balance never"
        " raises an alert (only a failure to check it does)",
    ]


def test_check_json_prints_a_json_error_document_on_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"providers:\n  x: {{type: browser8, api_key: {SENTINEL}}}\n", "utf-8")
    result = run_alertd("check", "--json", "-c", str(path), cwd=tmp_path, timeout=30)
    assert result.code == 3
    document = json.loads(result.stdout)  # before: plain text on stderr, nothing on stdout
    assert document == {
        "status": "UNKNOWN",
        "errors": [
            f"{path}: provider 'x': type: 'browser8' is not a provider type; known: browser7,"
            " youcom, lobstr, srtgen, decaptcha, http_json; presets: " + ", ".join(PRESETS)
        ],
    }
    assert SENTINEL not in result.output


BAD_VALUES = {
    "non-ascii-key": (f"api_key: '{SENTINEL}é'", "api_key: the key contains a non-ASCII"),
    "newline-key": (f'api_key: "{SENTINEL}\\nx"', "api_key: the key contains a line break"),
    "port-99999": ("base_url: http://127.0.0.1:99999", "base_url: port 99999 is not between"),
    "arabic-digits": ('warning: "١٢٣"', "warning: '١٢٣' is not a number"),
    "fullwidth-digits": ('critical: "１２３"', "critical: '１２３' is not a number"),
    "underscore-quoted": ('warning: "1_000"', "warning: '1_000' is not a number"),
    "underscore-plain": ("warning: 1_000", "warning: '1_000' is not a number"),
    "underscore-percent": ('warning: "1_0%"', "warning: '1_0' is not a number"),
    "arabic-duration": ('interval: "٥m"', "interval: '٥m' is not a duration"),
    "fullwidth-seconds": ('timeout: "１０"', "timeout: '１０' is not a duration"),
    "underscore-count": ('failure_threshold: "1_0"', "failure_threshold: '1_0' is not a whole"),
    "bool-count": ("failure_threshold: true", "failure_threshold: expected a whole number"),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_values_are_caught_by_validate_not_at_every_poll(tmp_path: Path, case: str) -> None:
    line, expected = BAD_VALUES[case]
    body = {"type": "youcom", "api_key": "k", "warning": "20"}
    key = line.partition(":")[0]
    body.pop(key, None)
    lines = [f"    {k}: {v}" for k, v in body.items()] + [f"    {line}"]
    result = validate(tmp_path, NOTIFIER + "providers:\n  yc:\n" + "\n".join(lines) + "\n")
    assert result.code == 1, result  # before: valid, then an internal error at each poll
    assert f"provider 'yc': {expected}" in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_listen_that_is_not_host_port_is_caught_by_validate(tmp_path: Path) -> None:
    text = NOTIFIER + "providers:\n  yc: {type: youcom, api_key: k, warning: 20}\n"
    result = validate(tmp_path, text + "http:\n  listen: 1.2.3.4.5:80\n")
    assert result.code == 1  # before: valid, then the daemon died binding it
    assert "http: listen: '1.2.3.4.5:80': '1.2.3.4.5' is not an IP address or host name" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "ALERTD_PROVIDERS__YC__CRITICAL",
            "lots",
            "critical: 'lots' is not a number (ASCII digits, . and e only)",
        ),
        (
            "ALERTD_PROVIDERS__YC__API_KEY",
            f"{SENTINEL}\n",
            "api_key: the key contains a line break (a trailing newline from a file or variable?)",
        ),
    ],
    ids=["threshold", "api-key"],
)
def test_an_error_from_an_environment_override_names_the_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    text = NOTIFIER + "providers:\n  yc: {type: youcom, api_key: k, warning: 20}\n"
    result = validate(tmp_path, text, {variable: value})
    assert result.code == 1
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'config.yaml'}: provider 'yc': {expected}"
        f" (set by environment variable {variable})"
    ]


def test_indentation_mistakes_get_a_hint(tmp_path: Path) -> None:
    flat = NOTIFIER + "providers:\n  yc:\n  type: youcom\n  api_key: k\n"
    result = validate(tmp_path, flat)
    assert result.code == 1
    assert "provider 'yc': should be a mapping of keys, not a single value (check the" in (
        result.stderr
    )
    outdented = NOTIFIER + "providers:\n  yc:\n    type: youcom\n   api_key: k\n"
    result = validate(tmp_path, outdented)
    assert result.code == 1
    assert "YAML syntax error" in result.stderr
    assert "check the indentation" in result.stderr


def test_the_type_value_is_escaped_in_the_error(tmp_path: Path) -> None:
    result = validate(tmp_path, 'providers:\n  x: {type: "b7\\e[31m\\nfake", api_key: k}\n')
    assert result.code == 1
    assert "type: 'b7\\x1b[31m\\x0afake' is not a provider type" in result.stderr
    assert "\x1b" not in result.stderr


# -- reload ---------------------------------------------------------------------------------------


def slow_invalid_config(sim: SimulatorThread, hook: dict[str, str]) -> str:
    """Thousands of providers (about 3 s to check here), the last one invalid: refused."""
    lines = [f"notifiers:\n  hook: {json.dumps(hook['hook'])}\nproviders:"]
    lines.extend(
        f"  p{i}: {{type: http_json, base_url: 'http://127.0.0.1:9', path: /b,"
        " expression: 'a.b[0].c', warning: 10, critical: 5, headers: {X-A: b}}"
        for i in range(3000)
    )
    lines.append("  broken: {type: youcom, api_key: k, warning: lots}")
    return "\n".join(lines) + "\n"


def test_a_sighup_during_a_reload_is_applied_after_it(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: StartDaemon
) -> None:
    sim.account("wallet", "browser7", 100)
    sim.account("late", "youcom", 100)
    path = tmp_path / "config.yaml"
    hook = {"hook": webhook.apprise_url}
    daemon = spawn(write_config(path, {"wallet": sim.provider("wallet", warning=20)}, hook))
    daemon.wait_started(["wallet"])

    write_text(path, slow_invalid_config(sim, hook))
    daemon.send_signal(signal.SIGHUP)
    time.sleep(0.5)  # the reload has read the file and is checking it
    providers = {"wallet": sim.provider("wallet", warning=20), "late": sim.provider("late")}
    write_config(path, providers, hook)
    daemon.send_signal(signal.SIGHUP)

    refused = daemon.wait_for("reload_refused", timeout=30)[0]
    assert "provider 'broken'" in "\n".join(refused["problems"])
    # before: the second SIGHUP was dropped and `late` never polled (3 of 3 runs)
    reloaded = daemon.wait_for("reloaded", timeout=30)[0]
    assert reloaded["added"] == ["late"]
    assert len(daemon.events("reload_queued")) == 1, daemon.tail()
    daemon.wait_for_polls(["late"], 1)
    assert len(daemon.events("reloaded")) == 1


@pytest.mark.parametrize("hostile", ["fifo", "dev-zero", "billion-laughs"])
def test_a_hostile_reload_is_refused_and_sigterm_still_stops(
    tmp_path: Path,
    sim: SimulatorThread,
    webhook: HttpStub,
    spawn: StartDaemon,
    hostile: str,
) -> None:
    sim.account("wallet", "browser7", 100)
    path = tmp_path / "config.yaml"
    hook = {"hook": webhook.apprise_url}
    wallet = sim.provider("wallet", warning=20)
    daemon = spawn(write_config(path, {"wallet": wallet}, hook))
    daemon.wait_started(["wallet"])

    if hostile == "billion-laughs":
        write_text(path, billion_laughs(9))
    else:
        key = tmp_path / "key.fifo"
        if hostile == "fifo":
            os.mkfifo(key)
        else:
            key = Path("/dev/zero")
        other = {"type": "lobstr", "api_key_file": str(key), "base_url": sim.base_url("wallet")}
        write_config(path, {"wallet": wallet, "other": other}, hook)
    daemon.send_signal(signal.SIGHUP)
    refused = daemon.wait_for("reload_refused", timeout=10)[0]  # before: never answered
    assert len(refused["problems"]) == 1, refused

    # a later reload still works (before: every later SIGHUP was dropped)
    sim.account("later", "youcom", 100)
    write_config(path, {"wallet": wallet, "later": sim.provider("later", warning=20)}, hook)
    daemon.send_signal(signal.SIGHUP)
    assert daemon.wait_for("reloaded", timeout=10)[0]["added"] == ["later"]

    # and a hostile reload in flight at SIGTERM does not keep the process alive
    write_config(
        path, {"wallet": wallet, "other": {"type": "lobstr", "api_key_file": "/dev/zero"}}, hook
    )
    daemon.send_signal(signal.SIGHUP)
    started = time.monotonic()
    assert daemon.stop(timeout=9) == 0  # before: alive 30 s after "stopped"
    assert time.monotonic() - started < 9


def test_sigterm_ends_the_process_even_while_a_reload_is_stuck(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub
) -> None:
    """The old daemon, whose reload blocked opening a FIFO: SIGTERM within 9 s regardless."""
    sim.account("wallet", "browser7", 100)
    path = tmp_path / "config.yaml"
    hook = {"hook": webhook.apprise_url}
    wallet = sim.provider("wallet", warning=20)
    with daemons(tmp_path) as start:
        daemon = start(write_config(path, {"wallet": wallet}, hook))
        daemon.wait_started(["wallet"])
        key = tmp_path / "key.fifo"
        os.mkfifo(key)
        write_config(
            path, {"wallet": wallet, "o": {"type": "lobstr", "api_key_file": str(key)}}, hook
        )
        daemon.send_signal(signal.SIGHUP)
        time.sleep(1)
        started = time.monotonic()
        try:
            code = daemon.stop(timeout=9)
        except subprocess.TimeoutExpired:
            pytest.fail("alertd still alive 9 s after SIGTERM")
        assert code == 0
        assert time.monotonic() - started < 9


# -- the store's file -----------------------------------------------------------------------------


def _store_config(tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, db: Path) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {"wallet": sim.provider("wallet", warning=20)},
        {"hook": webhook.apprise_url},
        store=f"sqlite://{db}",
    )


def _real_database(tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, db: Path) -> bytes:
    """The bytes of a database a real daemon wrote: a warning sent, then a clean stop."""
    sim.account("wallet", "browser7", 10)  # $10: below the $20 warning
    with daemons(tmp_path, poll_timeout=10) as start:
        daemon = start(_store_config(tmp_path, sim, webhook, db))
        daemon.wait_started(["wallet"])
        wait_until(lambda: webhook.about("wallet"), 10, "the first warning")
        wait_until(lambda: query(db, "SELECT * FROM sent"), 10, "the warning committed")
        assert daemon.stop() == 0
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("VACUUM")  # one file, no WAL beside it
    return db.read_bytes()


def _damaged(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "zeroed-header":
        return bytes(100) + data[100:]
    assert how == "pages-overwritten"  # page 1 (the schema) intact, the rest noise
    return data[:4096] + bytes((i * 151 + 7) % 256 for i in range(len(data) - 4096))


@pytest.mark.parametrize("how", ["truncated", "zeroed-header", "pages-overwritten"])
def test_a_damaged_database_is_set_aside_and_the_warning_goes_out_again(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: StartDaemon, how: str
) -> None:
    """Damage SQLite finds at start (its quick_check) sets the file aside whole: never a
    start that fails at every try, never a store that fails at every write."""
    db = tmp_path / "alertd.db"
    damaged = _damaged(_real_database(tmp_path, sim, webhook, db), how)
    db.write_bytes(damaged)
    sent_before = len(webhook.about("wallet"))

    daemon = spawn(_store_config(tmp_path, sim, webhook, db))
    daemon.wait_started(["wallet"])
    unusable = daemon.events("store_unusable")
    assert len(unusable) == 1, daemon.tail()
    assert f"store sqlite://{db} is corrupt (" in unusable[0]["problem"]
    aside = [
        p
        for p in tmp_path.iterdir()
        if p.name.startswith("alertd.db.corrupt-") and not p.name.endswith(("-wal", "-shm"))
    ]  # its -wal and -shm files, if any, go with it
    assert len(aside) == 1
    assert aside[0].read_bytes() == damaged
    wait_until(lambda: len(webhook.about("wallet")) > sent_before, 10, "the warning again")
    assert daemon.events("store_write_failed") == []
    assert daemon.stop() == 0


FORGED = {
    # what a hand edit (or a bug) could leave in the alert state, and what alertd says of it
    "future-sent": ("UPDATE sent SET at = 4070908800000", "sent.at is in the future"),
    "ok-sent": ("UPDATE sent SET severity = 'ok'", "sent.severity is not a severity"),
    "unknown-severity": ("UPDATE checks SET severity = 'fatal'", "severity is not a severity"),
    "negative-failures": ("UPDATE checks SET failures = -1000", "failures is not a whole number"),
    "text-failures": ("UPDATE checks SET failures = 'many'", "failures is not a whole number"),
    "text-time": ("UPDATE sent SET at = 'yesterday'", "sent.at is not a time"),
}


@pytest.mark.parametrize("case", list(FORGED))
def test_forged_alert_state_never_suppresses_the_alert(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: StartDaemon, case: str
) -> None:
    """A forged notification log said "told in 2100" (reminders would wait 75 years) or
    held values alertd never writes: the rows are left out with one line each, the daemon
    starts, and the warning goes out again."""
    db = tmp_path / "alertd.db"
    _real_database(tmp_path, sim, webhook, db)
    statement, reason = FORGED[case]
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(statement)
    sent_before = len(webhook.about("wallet"))

    daemon = spawn(_store_config(tmp_path, sim, webhook, db))
    daemon.wait_started(["wallet"])
    ignored = daemon.events("store_state_ignored")
    assert ignored, daemon.tail()
    assert all(reason in e["problem"] for e in ignored), ignored
    wait_until(lambda: len(webhook.about("wallet")) > sent_before, 10, "the warning again")
    assert webhook.about("wallet")[-1]["type"] == "warning"
    assert daemon.stop() == 0
