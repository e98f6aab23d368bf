"""The optional state file: alert state written atomically on change, restored at start.

Atomic: a temp file in the same directory, fsync, rename over the old file, fsync the
directory. A crash at any point leaves either the old file or the new one, never a mix.
A corrupt or unreadable file is reported and set aside (renamed), never fatal and never
silently emptied: the operator keeps the evidence, alertd starts with no state.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from alertd.core.model import Severity
from alertd.core.state import CheckState, Sent

FORMAT_VERSION = 1
ProviderStates = dict[str, dict[str, CheckState]]


def encode(checks: Mapping[str, Mapping[str, CheckState]], now: datetime) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "saved_at": now.isoformat(),
        "providers": {
            provider: {
                check: {
                    "severity": state.severity.label,
                    "detail": state.detail,
                    "since": state.since.isoformat(),
                    "failures": state.failures,
                    "sent": {
                        dest: {"severity": s.severity.label, "at": s.at.isoformat()}
                        for dest, s in state.sent.items()
                    },
                }
                for check, state in states.items()
            }
            for provider, states in checks.items()
        },
    }


def _instant(text: str) -> datetime:
    """An aware timestamp; a naive one would break every comparison with `now` later."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp without a timezone")
    return moment


def decode(data: Any) -> ProviderStates:
    """Raises ValueError (or KeyError/TypeError) on anything not written by `encode`."""
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError("not an alertd state file of version 1")
    result: ProviderStates = {}
    for provider, states in data["providers"].items():
        result[provider] = {
            check: CheckState(
                severity=Severity.parse(raw["severity"]),
                detail=str(raw["detail"]),
                since=_instant(raw["since"]),
                failures=int(raw["failures"]),
                sent={
                    dest: Sent(Severity.parse(s["severity"]), _instant(s["at"]))
                    for dest, s in raw["sent"].items()
                },
            )
            for check, raw in states.items()
        }
    return result


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, now: datetime) -> tuple[ProviderStates, str | None]:
        """(states, problem). A missing file is a fresh start; a bad one is set aside."""
        self._remove_leftovers()
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:
            return {}, f"cannot read state file {self.path}: {exc.strerror}"
        try:
            return decode(json.loads(raw)), None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self._aside_path(now)
            try:
                self.path.rename(aside)
            except OSError as rename_error:
                return {}, (
                    f"state file {self.path} is corrupt ({type(exc).__name__}) and could not be"
                    f" set aside: {rename_error.strerror}; starting with no alert state"
                )
            return {}, (
                f"state file {self.path} is corrupt ({type(exc).__name__}); set aside as"
                f" {aside.name}, starting with no alert state"
            )

    def _remove_leftovers(self) -> None:
        """Temp files of a save that a crash interrupted: ours, never complete, safe to drop."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def _aside_path(self, now: datetime) -> Path:
        """`state.json.corrupt-20261121T235909Z`, with a counter: earlier evidence is kept."""
        stem = f"{self.path.name}.corrupt-{now.strftime('%Y%m%dT%H%M%SZ')}"
        candidate, counter = self.path.with_name(stem), 1
        while candidate.exists():
            counter += 1
            candidate = self.path.with_name(f"{stem}-{counter}")
        return candidate

    def save(self, checks: Mapping[str, Mapping[str, CheckState]], now: datetime) -> None:
        """Atomic replace; raises OSError for the caller to log (the daemon keeps running)."""
        payload = json.dumps(encode(checks, now), separators=(",", ":")).encode()
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
