"""The state file (SPEC §3): a lossless round trip, atomic replacement, and bad files set aside.

A crash at any point of a save must leave the previous file whole and loadable; a file that
cannot be decoded is renamed aside with its bytes intact, never emptied or overwritten.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alertd.core.model import Severity
from alertd.core.state import CheckState, Sent
from alertd.store.statefile import (
    FORMAT_VERSION,
    MAX_BYTES,
    CorruptState,
    StateFile,
    decode,
    encode,
)

T0 = datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
LOADED_AT = datetime(2026, 3, 15, 1, 2, 3, tzinfo=UTC)


def sample() -> dict[str, dict[str, CheckState]]:
    return {
        "render-farm": {
            "balance": CheckState(
                Severity.CRITICAL,
                "balance $4.10 below critical threshold $5.00",
                T0,
                sent={
                    "ops:0123456789ab": Sent(Severity.WARNING, T0 - timedelta(hours=2)),
                    "oncall:ba9876543210": Sent(Severity.CRITICAL, T0 + timedelta(seconds=1)),
                },
            ),
            "fetch": CheckState(Severity.OK, "checked successfully", T0 - timedelta(days=3)),
        },
        "scraper": {
            "fetch": CheckState(
                Severity.WARNING,
                "cannot check: HTTP 503 — «service unavailable»",
                T0,
                failures=7,
                sent={"ops:0123456789ab": Sent(Severity.WARNING, T0)},
            ),
            "unpaid_bill": CheckState(Severity.WARNING, "unpaid bill", T0),
        },
        "quiet": {},
    }


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- round trip ---------------------------------------------------------------------------------


def test_encode_decode_round_trip_through_json() -> None:
    checks = sample()
    text = json.dumps(encode(checks, T0))
    assert decode(json.loads(text)) == checks


def test_encoded_form_is_versioned_and_readable() -> None:
    data = encode(sample(), T0)
    assert data["version"] == FORMAT_VERSION
    assert data["saved_at"] == T0.isoformat()
    balance = data["providers"]["render-farm"]["balance"]
    assert balance["severity"] == "critical"
    assert balance["sent"]["oncall:ba9876543210"]["severity"] == "critical"


def test_save_then_load_is_the_same_state(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    store.save(sample(), T0)
    states, problem = store.load(LOADED_AT)
    assert problem is None
    assert states == sample()
    # the restored values are real datetimes and severities, not strings
    restored = states["render-farm"]["balance"]
    assert restored.since == T0
    assert restored.since.tzinfo is not None
    assert restored.sent["ops:0123456789ab"].severity is Severity.WARNING


def test_save_replaces_the_previous_state(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    store.save(sample(), T0)
    store.save({"only": {"fetch": CheckState(Severity.OK, "fine", T0)}}, T0)
    states, problem = store.load(LOADED_AT)
    assert problem is None
    assert list(states) == ["only"]


def test_missing_file_is_a_fresh_start_not_a_problem(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    assert store.load(LOADED_AT) == ({}, None)
    assert files_in(tmp_path) == []


# -- atomic writes ------------------------------------------------------------------------------


def test_saves_leave_no_temporary_files(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    for second in range(5):
        store.save(sample(), T0 + timedelta(seconds=second))
    assert files_in(tmp_path) == ["state.json"]
    assert json.loads((tmp_path / "state.json").read_text())["version"] == FORMAT_VERSION


def _raiser(exc: BaseException) -> Callable[..., Any]:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return boom


@pytest.mark.parametrize(
    ("function", "exc"),
    [
        ("fsync", OSError(5, "Input/output error")),
        ("replace", OSError(28, "No space left on device")),
        ("fsync", KeyboardInterrupt()),  # interrupted mid-write: still cleaned up, re-raised
    ],
    ids=["fsync-fails", "rename-fails", "interrupted"],
)
def test_crash_mid_write_keeps_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str, exc: BaseException
) -> None:
    path = tmp_path / "state.json"
    store = StateFile(path)
    store.save(sample(), T0)
    before = path.read_bytes()

    newer = {"render-farm": {"fetch": CheckState(Severity.WARNING, "cannot check", T0)}}
    with monkeypatch.context() as patch:
        patch.setattr(os, function, _raiser(exc))
        with pytest.raises(type(exc)):
            store.save(newer, T0 + timedelta(minutes=1))

    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["state.json"], "the temp file was left behind"
    states, problem = store.load(LOADED_AT)
    assert problem is None
    assert states == sample()


def test_save_into_a_missing_directory_raises_oserror(tmp_path: Path) -> None:
    """The daemon logs `state_file_write_failed` for this and keeps running."""
    store = StateFile(tmp_path / "gone" / "state.json")
    # the error names the missing directory, where the temp file was to be made
    with pytest.raises(OSError, match=re.escape(str(tmp_path / "gone" / ".state.json."))):
        store.save(sample(), T0)
    assert files_in(tmp_path) == []


# -- corrupt files ------------------------------------------------------------------------------

CORRUPT = {
    "garbage-bytes": b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n",
    "truncated-json": json.dumps(encode(sample(), T0)).encode()[:-20],
    "empty": b"",
    "json-list": b"[1, 2, 3]",
    "json-null": b"null",
    "other-version": json.dumps({"version": 99, "providers": {}}).encode(),
    "providers-not-a-mapping": json.dumps({"version": 1, "providers": []}).encode(),
    "unknown-severity": json.dumps(
        {
            "version": 1,
            "providers": {
                "p": {
                    "balance": {
                        "severity": "apocalyptic",
                        "detail": "",
                        "since": T0.isoformat(),
                        "failures": 0,
                        "sent": {},
                    }
                }
            },
        }
    ).encode(),
    "missing-field": json.dumps(
        {"version": 1, "providers": {"p": {"balance": {"severity": "ok"}}}}
    ).encode(),
    "bad-timestamp": json.dumps(
        {
            "version": 1,
            "providers": {
                "p": {
                    "balance": {
                        "severity": "ok",
                        "detail": "",
                        "since": "yesterday",
                        "failures": 0,
                        "sent": {},
                    }
                }
            },
        }
    ).encode(),
}


@pytest.mark.parametrize("content", list(CORRUPT.values()), ids=list(CORRUPT))
def test_corrupt_file_is_set_aside_with_its_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    store = StateFile(path)

    states, problem = store.load(LOADED_AT)

    assert states == {}
    aside = tmp_path / "state.json.corrupt-20260315T010203Z"
    assert problem is not None
    assert str(path) in problem
    assert aside.name in problem
    assert files_in(tmp_path) == [aside.name], "the bad file must be renamed, not kept in place"
    assert aside.read_bytes() == content, "the evidence must be kept byte for byte"


def test_after_a_corrupt_file_the_next_save_starts_fresh_and_keeps_the_evidence(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"{not json")
    store = StateFile(path)
    store.load(LOADED_AT)
    store.save(sample(), LOADED_AT)

    assert files_in(tmp_path) == ["state.json", "state.json.corrupt-20260315T010203Z"]
    assert (tmp_path / "state.json.corrupt-20260315T010203Z").read_bytes() == b"{not json"
    assert store.load(LOADED_AT) == (sample(), None)


def test_unreadable_path_is_reported_and_left_alone(tmp_path: Path) -> None:
    """A directory where the file should be: reported, nothing renamed or deleted."""
    path = tmp_path / "state.json"
    path.mkdir()
    states, problem = StateFile(path).load(LOADED_AT)
    assert states == {}
    assert problem is not None
    assert "cannot read" in problem
    assert str(path) in problem
    assert path.is_dir()


def test_timestamp_without_timezone_is_refused(tmp_path: Path) -> None:
    data = encode(sample(), T0)
    data["providers"]["render-farm"]["balance"]["sent"]["ops:0123456789ab"]["at"] = (
        "2026-03-14T09:26:53"
    )
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data))
    states, problem = StateFile(path).load(LOADED_AT)
    assert states == {}
    assert problem is not None


def test_load_removes_temp_files_left_by_an_interrupted_save(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateFile(path).save(sample(), T0)
    leftover = tmp_path / ".state.json.abc123.tmp"
    leftover.write_bytes(b'{"version": 1, "providers": {')
    unrelated = tmp_path / "notes.tmp"
    unrelated.write_text("keep me")
    states, problem = StateFile(path).load(LOADED_AT)
    assert problem is None
    assert states == sample()
    assert not leftover.exists()
    assert unrelated.read_text() == "keep me"


# -- restored as strictly as the config (issue 8) -----------------------------------------------


def _valid() -> dict[str, Any]:
    return encode(sample(), T0)


def _fetch(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = data["providers"]["scraper"]["fetch"]
    return result


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda d: _fetch(d).update(failures=-1), "failures: not a whole number"),
        (lambda d: _fetch(d).update(failures=True), "failures: not a whole number"),
        (lambda d: _fetch(d).update(failures=3.0), "failures: not a whole number"),
        (lambda d: _fetch(d).update(severity="fatal"), "severity: not a severity"),
        (lambda d: _fetch(d).update(severity=" Warning "), "severity: not a severity"),
        (lambda d: _fetch(d).update(detail=["x"]), "detail: not text"),
        (lambda d: _fetch(d).update(extra=1), "keys not as written by alertd (extra)"),
        (lambda d: _fetch(d).pop("sent"), "keys not as written by alertd (sent)"),
        (lambda d: _fetch(d).update(since="2026-03-14T10:00:00+00:00"), "since: in the future"),
        (lambda d: d.update(version=True), "not an alertd state file of version 1"),
        (lambda d: d.update(providers=[]), "providers: not an object"),
    ],
)
def test_decode_refuses_what_encode_would_not_write(
    spoil: Callable[[dict[str, Any]], object], reason: str
) -> None:
    data = _valid()
    spoil(data)
    with pytest.raises(CorruptState) as caught:
        decode(data, now=T0)
    assert reason in str(caught.value)


def test_a_clock_a_little_behind_the_file_is_not_corruption() -> None:
    """A sent time up to five minutes ahead of now (a clock stepped back) is kept."""
    assert decode(_valid(), now=T0 + timedelta(seconds=1) - timedelta(minutes=5)) == sample()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"version": 1, "providers": {"p": {"fetch": {"failures": NaN}}}}', "NaN"),
        (b'{"version": 1, "x": -Infinity}', "-Infinity"),
        (b'{"version": 1, "x": 1e400}', "1e400 is out of range"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a": "\xc3\x28"}', "not UTF-8 text"),
    ],
)
def test_hostile_json_is_corrupt_not_a_crash(tmp_path: Path, raw: bytes, reason: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(raw)
    states, problem = StateFile(path).load(LOADED_AT)
    assert states == {}
    assert problem is not None
    assert reason in problem
    assert "set aside as" in problem
    assert not path.exists()


def test_a_fifo_or_oversized_state_file_is_set_aside_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "state.json"
    os.mkfifo(fifo)
    states, problem = StateFile(fifo).load(LOADED_AT)  # before: blocked for ever
    assert states == {}
    assert problem is not None
    assert "not a regular file (a FIFO)" in problem
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    states, problem = StateFile(big).load(LOADED_AT)
    assert states == {}
    assert problem is not None
    assert "larger than 32 MiB" in problem
