"""The optional state file: alert state written atomically on change, restored at start.

Atomic: a temp file in the same directory, fsync, rename over the old file, fsync the
directory. A crash at any point leaves either the old file or the new one, never a mix.
A corrupt or unreadable file is reported and set aside (renamed), never fatal and never
silently emptied: the operator keeps the evidence, alertd starts with no state.

Restored state is checked as strictly as the config, because it decides what is sent: a
`sent.at` in the future would suppress reminders, a negative failure count "cannot check",
`Infinity` or 100,000 levels of nesting crashed every start. Anything `encode` would not
have written (a wrong type, a bool for a number, an unknown severity, an unknown key, a
time more than `MAX_SKEW` ahead of now) makes the whole file corrupt. Only regular files of
at most `MAX_BYTES` are read.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alertd.core.model import Severity
from alertd.core.state import CheckState, Sent
from alertd.files import RefusedFile, UnreadableFile, read_regular
from alertd.text import printable

FORMAT_VERSION = 1
MAX_BYTES = 32 << 20  # about 10,000 providers with several notifiers each
MAX_SKEW = timedelta(minutes=5)  # a clock stepped back a little is not corruption
MAX_FAILURES = 10**9
ProviderStates = dict[str, dict[str, CheckState]]
_CHECK_KEYS = frozenset({"severity", "detail", "since", "failures", "sent"})
_SENT_KEYS = frozenset({"severity", "at"})
_LABELS = {s.label: s for s in Severity}


class CorruptState(ValueError):
    """What is wrong and where (`providers.p.fetch.failures: ...`): names escaped, no values."""


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


def _where(*parts: str) -> str:
    return ".".join(printable(part, 60) for part in parts)


def _instant(text: Any, where: str, now: datetime | None) -> datetime:
    """An aware timestamp, not in the future: a naive one breaks every comparison with `now`,
    a future one suppresses reminders."""
    if not isinstance(text, str) or len(text) > 64:
        raise CorruptState(f"{where}: not a timestamp")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CorruptState(f"{where}: not a timestamp") from None
    if moment.tzinfo is None:
        raise CorruptState(f"{where}: timestamp without a timezone")
    if now is not None and moment > now + MAX_SKEW:
        raise CorruptState(f"{where}: in the future ({moment.isoformat()})")
    return moment


def _severity(value: Any, where: str, allow_ok: bool = True) -> Severity:
    severity = _LABELS.get(value) if isinstance(value, str) else None
    if severity is None or (severity == Severity.OK and not allow_ok):
        raise CorruptState(f"{where}: not a severity")
    return severity


def _mapping(value: Any, where: str, keys: frozenset[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CorruptState(f"{where}: not an object")
    if keys is not None and set(value) != keys:
        found = ", ".join(sorted(printable(str(k), 40) for k in set(value) ^ keys))
        raise CorruptState(f"{where}: keys not as written by alertd ({found})")
    return value


def _check(raw: Any, where: tuple[str, ...], now: datetime | None) -> CheckState:
    raw = _mapping(raw, _where(*where), _CHECK_KEYS)
    failures = raw["failures"]
    if type(failures) is not int or not 0 <= failures <= MAX_FAILURES:
        raise CorruptState(f"{_where(*where, 'failures')}: not a whole number from 0 to 10^9")
    if not isinstance(raw["detail"], str):
        raise CorruptState(f"{_where(*where, 'detail')}: not text")
    sent = {}
    for dest, entry in _mapping(raw["sent"], _where(*where, "sent")).items():
        at = (*where, "sent", dest)
        entry = _mapping(entry, _where(*at), _SENT_KEYS)
        sent[dest] = Sent(
            _severity(entry["severity"], _where(*at, "severity"), allow_ok=False),
            _instant(entry["at"], _where(*at, "at"), now),
        )
    return CheckState(
        severity=_severity(raw["severity"], _where(*where, "severity")),
        detail=raw["detail"],
        since=_instant(raw["since"], _where(*where, "since"), now),
        failures=failures,
        sent=sent,
    )


def decode(data: Any, now: datetime | None = None) -> ProviderStates:
    """The states `encode` wrote; CorruptState on anything else. With `now`, times later
    than now (beyond `MAX_SKEW`) are corrupt too."""
    data = _mapping(data, "top level")
    if type(data.get("version")) is not int or data["version"] != FORMAT_VERSION:
        raise CorruptState("not an alertd state file of version 1")
    if "saved_at" in data:
        _instant(data["saved_at"], "saved_at", now)
    result: ProviderStates = {}
    for provider, states in _mapping(data.get("providers"), "providers").items():
        checks = _mapping(states, _where("providers", provider))
        result[provider] = {
            check: _check(raw, ("providers", provider, check), now) for check, raw in checks.items()
        }
    return result


def _refuse_constant(name: str) -> Any:
    raise CorruptState(f"{name} is not a number alertd writes")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise CorruptState(f"{printable(text, 40)} is out of range")
    return number


def parse(raw: bytes, now: datetime | None = None) -> ProviderStates:
    """JSON text to states: no NaN or Infinity, no 1e400, no nesting deep enough to crash."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise CorruptState("nested too deeply") from None
    except UnicodeDecodeError:
        raise CorruptState("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CorruptState(f"not JSON (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise CorruptState(printable(str(exc), 80)) from None
    return decode(data, now)


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, now: datetime) -> tuple[ProviderStates, str | None]:
        """(states, problem). A missing file is a fresh start; a bad one is set aside."""
        self._remove_leftovers()
        try:
            return parse(read_regular(self.path, MAX_BYTES), now), None
        except FileNotFoundError:
            return {}, None
        except RefusedFile as exc:
            reason = str(exc)
        except UnreadableFile as exc:  # permissions, I/O: not the file's fault, left in place
            return {}, f"cannot read state file {self.path}: {exc}"
        except CorruptState as exc:
            reason = str(exc)
        aside = self._aside_path(now)
        try:
            self.path.rename(aside)
        except OSError as rename_error:
            return {}, (
                f"state file {self.path} is corrupt ({reason}) and could not be set aside:"
                f" {rename_error.strerror}; starting with no alert state"
            )
        return {}, (
            f"state file {self.path} is corrupt ({reason}); set aside as {aside.name},"
            " starting with no alert state"
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
