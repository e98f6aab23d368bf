"""Values to rows and back: times as integer milliseconds UTC, money as `str(Decimal)`.

Alert state read back is checked as strictly as the old state file was, because it decides
what is sent: a row alertd would not have written (an unknown severity, a negative failure
count, a `sent` time in the future that would hold back reminders) is left out with a
problem line, and the alert it concerned is decided afresh: sent again rather than lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from alertd.core.model import Severity
from alertd.core.series import Event, EventKind, Sample, Summary
from alertd.core.state import CheckState, Reason, Sent
from alertd.store.base import LogEntry, ProviderChecks
from alertd.text import printable

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
MAX_SKEW = timedelta(minutes=5)  # a clock stepped back a little is not corruption
MAX_FAILURES = 10**9
_SEVERITIES = {s.label: s for s in Severity}

Row = tuple[Any, ...]


def to_ms(at: datetime) -> int:
    return (at - EPOCH) // MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * MS


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


# -- writing --------------------------------------------------------------------------------


def sample_row(provider: str, s: Sample) -> Row:
    return (provider, to_ms(s.at), str(s.amount), s.unit, money(s.capacity))


def event_row(provider: str, e: Event) -> Row:
    return (provider, to_ms(e.at), e.kind.value, str(e.amount), str(e.balance))


def notification_row(n: LogEntry) -> Row:
    return (
        n.provider,
        to_ms(n.at),
        n.check,
        n.destination,
        n.reason.value,
        n.severity.label,
        n.title,
    )


def summary_row(provider: str, s: Summary) -> Row:
    return (
        provider,
        to_ms(s.hour),
        s.unit,
        str(s.first),
        str(s.last),
        str(s.low),
        str(s.high),
        str(s.spent),
        s.readings,
    )


def check_rows(provider: str, checks: Mapping[str, CheckState]) -> tuple[list[Row], list[Row]]:
    """The `checks` rows and the `sent` rows of one provider's snapshot."""
    states: list[Row] = []
    sent: list[Row] = []
    for name, state in checks.items():
        states.append(
            (provider, name, state.severity.label, state.detail, to_ms(state.since), state.failures)
        )
        sent.extend(
            (provider, name, destination, entry.severity.label, to_ms(entry.at))
            for destination, entry in state.sent.items()
        )
    return states, sent


# -- reading --------------------------------------------------------------------------------


def sample_of(row: Row) -> Sample:
    _, at, amount, unit, capacity = row
    capacity = None if capacity is None else Decimal(capacity)
    return Sample(from_ms(at), Decimal(amount), unit, capacity)


def event_of(row: Row) -> Event:
    _, at, kind, amount, balance = row
    return Event(from_ms(at), EventKind(kind), Decimal(amount), Decimal(balance))


def summary_of(row: Row) -> Summary:
    _, hour, unit, first, last, low, high, spent, readings = row
    return Summary(
        from_ms(hour),
        unit,
        Decimal(first),
        Decimal(last),
        Decimal(low),
        Decimal(high),
        Decimal(spent),
        readings,
    )


def notification_of(row: Row) -> LogEntry:
    provider, at, check, destination, reason, severity, title = row
    return LogEntry(
        provider, check, destination, Reason(reason), _SEVERITIES[severity], from_ms(at), title
    )


class BadRow(ValueError):
    """What is wrong with a stored row (no values that could be secrets: names and times)."""


def _instant(value: Any, what: str, now: datetime) -> datetime:
    if type(value) is not int or not -(2**53) < value < 2**53:
        raise BadRow(f"{what} is not a time")
    moment = from_ms(value)
    if moment > now + MAX_SKEW:
        raise BadRow(f"{what} is in the future ({moment:%Y-%m-%d %H:%M:%S} UTC)")
    return moment


def _severity(value: Any, what: str, allow_ok: bool = True) -> Severity:
    severity = _SEVERITIES.get(value) if isinstance(value, str) else None
    if severity is None or (severity is Severity.OK and not allow_ok):
        raise BadRow(f"{what} is not a severity alertd writes")
    return severity


def _check_state(row: Row, now: datetime) -> CheckState:
    _, _, severity, detail, since, failures = row
    if type(failures) is not int or not 0 <= failures <= MAX_FAILURES:
        raise BadRow("failures is not a whole number from 0 to 10^9")
    if not isinstance(detail, str):
        raise BadRow("detail is not text")
    return CheckState(
        _severity(severity, "severity"), detail, _instant(since, "since", now), failures
    )


def state_of(
    check_rows: Iterable[Row], sent_rows: Iterable[Row], now: datetime
) -> tuple[ProviderChecks, list[str]]:
    """Every provider's checks with their `sent` log; rows that fail the checks are left
    out, each with a problem line naming provider, check and what is wrong."""
    result: ProviderChecks = {}
    problems: list[str] = []
    for row in check_rows:
        provider, name = str(row[0]), str(row[1])
        try:
            result.setdefault(provider, {})[name] = _check_state(row, now)
        except BadRow as exc:
            problems.append(f"{_where(provider, name)}: {exc}; left out, decided afresh")
    sent: dict[tuple[str, str], dict[str, Sent]] = {}
    for provider, name, destination, severity, at in sent_rows:
        if name not in result.get(provider, {}):
            continue
        try:
            entry = Sent(
                _severity(severity, "sent.severity", allow_ok=False),
                _instant(at, "sent.at", now),
            )
        except BadRow as exc:
            where = _where(provider, name, destination)
            problems.append(f"{where}: {exc}; left out, so this alert is sent again")
            continue
        sent.setdefault((provider, name), {})[destination] = entry
    for (provider, name), entries in sent.items():
        state = result[provider][name]
        result[provider][name] = CheckState(
            state.severity, state.detail, state.since, state.failures, entries
        )
    return result, problems


def _where(*parts: object) -> str:
    return ".".join(printable(str(part), 60) for part in parts)
