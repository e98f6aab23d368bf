"""PURE: the JSON of `/api/v1/status` and `/api/v1/providers/NAME/history` (SPEC §8).

Money is a string (exact, as Decimal), times are RFC 3339 in UTC, durations in seconds.
Each endpoint says `"version": 1`; fields may be added, never renamed or removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from alertd.config.types import parse_duration
from alertd.core.series import Sample
from alertd.series_json import event_json, sample_json, summary_json
from alertd.store.base import History
from alertd.text import printable
from alertd.web.status import ProviderView, StatusView
from alertd.web.wording import iso

VERSION = 1
MAX_SINCE = timedelta(days=400)
RATE_PLACES = Decimal("0.0001")  # as `alertd check --json` shows it
MAX_SAMPLES = 20_000  # more are thinned evenly: a year of minutely readings is ~40 MB of JSON


class BadQuery(ValueError):
    """A query parameter that cannot be read: answered 400 with this message."""


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def provider_json(p: ProviderView) -> dict[str, Any]:
    balance = None
    if p.amount is not None:
        balance = {
            "amount": _money(p.amount),
            "unit": p.unit,
            "text": p.balance,
            "breakdown": dict(p.breakdown),
            "capacity": _money(p.capacity),
            "share": None if p.share is None else round(float(p.share), 4),
            "thresholds": {s.label: _money(v) for s, v in sorted(p.levels.items())},
            "checked_at": iso(p.checked_at),
        }
    forecast = None
    if p.forecast is not None:
        f = p.forecast
        forecast = {
            "outlook": f.outlook,
            "text": f.text,
            "burn_rate_per_day": None if f.rate is None else str(f.rate.quantize(RATE_PLACES)),
            "burn_text": f.burn,
            "runway_seconds": None if f.runway is None else f.runway.total_seconds(),
            "runs_out_at": iso(f.exhausted_at),
            "resets_at": iso(f.resets_at),
            "topups": f.topups,
        }
    return {
        "name": p.name,
        "type": p.type,
        "severity": p.severity,
        "reason": p.reason,
        "balance": balance,
        "forecast": forecast,
        "checks": [
            {"check": c.check, "severity": c.severity, "detail": c.detail, "since": iso(c.since)}
            for c in p.checks
        ],
        "last_poll": None
        if p.last_poll_at is None
        else {"at": iso(p.last_poll_at), "ok": p.error is None, "error": p.error},
        "history": f"/api/v1/providers/{p.name}/history",
    }


def status_json(view: StatusView) -> dict[str, Any]:
    return {
        "version": VERSION,
        "generated_at": iso(view.now),
        "worst": view.worst,
        "totals": view.totals,
        "providers": [provider_json(p) for p in view.providers],
    }


def parse_since(text: str | None, now: datetime, default: timedelta) -> datetime:
    """`7d`, `36h`, `90m` back from now, or an RFC 3339 time (it has `-` or `:`); at most
    MAX_SINCE back."""
    if text is None or not text.strip():
        return now - default
    text = text.strip()
    if "-" in text or ":" in text:
        moment = _time(text)
    else:
        try:
            moment = now - parse_duration(text)
        except ValueError as exc:
            raise BadQuery(f"since: {exc} (or a time such as 2026-01-31T00:00:00Z)") from None
    if now - moment > MAX_SINCE:
        raise BadQuery(f"since: at most {MAX_SINCE.days} days back")
    return moment


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None:
        raise BadQuery(f"since: '{printable(text, 40)}' is not a time such as 2026-01-31T00:00:00Z")
    if moment.tzinfo is None:
        raise BadQuery("since: a time needs its offset (Z for UTC)")
    return moment


def _thinned(samples: Sequence[Sample]) -> tuple[Sequence[Sample], int]:
    """At most MAX_SAMPLES, every k-th (the last one always kept); (samples, k)."""
    if len(samples) <= MAX_SAMPLES:
        return samples, 1
    step = -(-len(samples) // MAX_SAMPLES)
    kept = list(samples[::step])
    if kept[-1] is not samples[-1]:
        kept.append(samples[-1])
    return kept, step


def history_json(
    history: History, since: datetime, now: datetime, redact: Callable[[str], str] = str
) -> dict[str, Any]:
    """`redact` masks known secrets in the notifications' titles (text from providers)."""
    samples, step = _thinned(history.samples)
    return {
        "version": VERSION,
        "provider": history.provider,
        "since": iso(since),
        "until": iso(now),
        "samples": [sample_json(s, iso) for s in samples],
        "thinned_every": step,
        "summaries": [summary_json(s, iso) for s in history.summaries],
        "events": [event_json(e, iso) for e in history.events],
        "notifications": [
            {
                "at": iso(n.at),
                "check": n.check,
                "reason": n.reason.value,
                "severity": n.severity.label,
                "title": redact(printable(n.title)),
            }
            for n in history.notifications
        ],
    }
