"""The JSON of `/api/v1/status` and the history endpoint as plain data: its schema (the keys
and types a script relies on), exact money as strings, times in UTC with a Z, the `since`
parameter and its one-line errors, and a bounded size."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from support.core import T0, at

from alertd.core.model import Severity
from alertd.core.series import Event, EventKind, Sample, Summary
from alertd.core.state import Reason
from alertd.store.base import History, LogEntry
from alertd.web.api import MAX_SAMPLES, BadQuery, history_json, parse_since, status_json
from alertd.web.status import status_view
from web.cards import draining, watched

STATUS_KEYS = {"version", "generated_at", "worst", "totals", "providers"}
PROVIDER_KEYS = {
    "name",
    "type",
    "severity",
    "reason",
    "balance",
    "forecast",
    "checks",
    "last_poll",
    "history",
}
BALANCE_KEYS = {
    "amount",
    "unit",
    "text",
    "breakdown",
    "capacity",
    "share",
    "thresholds",
    "checked_at",
}
FORECAST_KEYS = {
    "outlook",
    "text",
    "burn_rate_per_day",
    "burn_text",
    "runway_seconds",
    "runs_out_at",
    "resets_at",
    "topups",
}


def roundtrip(payload: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(payload))
    return decoded


def test_status_schema() -> None:
    view = status_view(
        [draining("wallet", 100, 1, 48, burn_window="2d"), watched("new", [])], at(48)
    )
    data = roundtrip(status_json(view))
    assert set(data) == STATUS_KEYS
    assert (data["version"], data["generated_at"], data["worst"]) == (
        1,
        "2026-03-03T12:00:00Z",
        "pending",  # no bad news, but one provider not polled yet
    )
    assert data["totals"] == {"critical": 0, "warning": 0, "pending": 1, "ok": 1}
    new, wallet = data["providers"]  # pending before ok
    assert set(wallet) == PROVIDER_KEYS
    assert set(wallet["balance"]) == BALANCE_KEYS
    assert set(wallet["forecast"]) == FORECAST_KEYS
    assert wallet["balance"] | {"breakdown": None} == {
        "amount": "52",
        "unit": "USD",
        "text": "$52.00",
        "breakdown": None,
        "capacity": None,
        "share": None,
        "thresholds": {"warning": "20", "critical": "5"},
        "checked_at": "2026-03-03T12:00:00Z",
    }
    forecast = wallet["forecast"]
    assert (forecast["outlook"], forecast["burn_rate_per_day"], forecast["burn_text"]) == (
        "runs out",
        "24.0000",
        "$24.00/day",
    )
    assert forecast["runway_seconds"] == pytest.approx(52 / 24 * 86400, rel=0.01)
    assert forecast["runs_out_at"].endswith("Z")
    assert wallet["checks"][0] == {
        "check": "balance",
        "severity": "ok",
        "detail": "above warning threshold $20.00",
        "since": "2026-03-01T12:00:00Z",
    }
    assert wallet["last_poll"] == {"at": "2026-03-03T12:00:00Z", "ok": True, "error": None}
    assert wallet["history"] == "/api/v1/providers/wallet/history"
    assert new | {"reason": None} == {
        "name": "new",
        "type": "browser7",
        "severity": "pending",
        "reason": None,
        "balance": None,
        "forecast": None,
        "checks": [],
        "last_poll": None,
        "history": "/api/v1/providers/new/history",
    }


@pytest.mark.parametrize(
    ("text", "back"),
    [
        (None, timedelta(days=7)),
        ("", timedelta(days=7)),
        ("7d", timedelta(days=7)),
        ("36h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("2026-03-01T00:00:00Z", timedelta(hours=12)),
        ("2026-03-01T01:00:00+01:00", timedelta(hours=12)),
    ],
)
def test_since(text: str | None, back: timedelta) -> None:
    assert parse_since(text, T0, timedelta(days=7)) == T0 - back


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "7x",
            "since: '7x' is not a duration such as 30s, 5m, 1h30m, 1d or whole seconds"
            " (or a time such as 2026-01-31T00:00:00Z)",
        ),
        ("2026-03-01T00:00:00", "since: a time needs its offset (Z for UTC)"),
        ("2026-03-41T00:00:00Z", "since: '2026-03-41T00:00:00Z' is not a time such as"),
        ("500d", "since: at most 400 days back"),
        ("9999d", "since: '9999d' is longer than 3650 days"),
        ("<script>", "since: '<script>' is not a duration such as"),
    ],
)
def test_since_errors_are_one_line(text: str, error: str) -> None:
    with pytest.raises(BadQuery) as caught:
        parse_since(text, T0, timedelta(days=7))
    assert str(caught.value).startswith(error)


def test_history_schema() -> None:
    history = History(
        "wallet",
        samples=tuple(Sample(at(h), Decimal(f"{50 - h}.5"), "USD") for h in range(3)),
        summaries=(
            Summary(
                at(-30), "USD", Decimal(60), Decimal(55), Decimal(54), Decimal(61), Decimal(7), 60
            ),
        ),
        events=(Event(at(1), EventKind.TOPUP, Decimal(10), Decimal("49.5")),),
        notifications=(
            LogEntry("wallet", "balance", "ops:abc123abc123", Reason.FIRST, Severity.WARNING,
                     at(1), "WARNING wallet: balance $19.50 below warning threshold"),
        ),
    )  # fmt: skip
    data = roundtrip(history_json(history, at(-48), at(3)))
    assert set(data) == {
        "version",
        "provider",
        "since",
        "until",
        "samples",
        "thinned_every",
        "summaries",
        "events",
        "notifications",
    }
    assert data["samples"][0] == {
        "at": "2026-03-01T12:00:00Z",
        "amount": "50.5",
        "unit": "USD",
        "capacity": None,
    }
    assert data["summaries"][0]["spent"] == "7"
    assert data["events"] == [
        {"at": "2026-03-01T13:00:00Z", "kind": "topup", "amount": "10", "balance": "49.5"}
    ]
    assert data["notifications"] == [
        {
            "at": "2026-03-01T13:00:00Z",
            "check": "balance",
            "reason": "first",
            "severity": "warning",
            "title": "WARNING wallet: balance $19.50 below warning threshold",
        }
    ]  # the destination (a hash of a notifier URL) is not shown
    assert (data["since"], data["until"], data["thinned_every"]) == (
        "2026-02-27T12:00:00Z",
        "2026-03-01T15:00:00Z",
        1,
    )


def test_a_long_history_is_thinned_to_a_bounded_answer() -> None:
    count = MAX_SAMPLES * 3 + 7
    history = History(
        "wallet",
        samples=tuple(Sample(T0 + timedelta(minutes=i), Decimal(i), "USD") for i in range(count)),
    )
    data = history_json(history, T0, T0 + timedelta(minutes=count))
    assert len(data["samples"]) <= MAX_SAMPLES + 1
    assert data["thinned_every"] == 4
    assert data["samples"][-1]["amount"] == str(count - 1)  # the latest is always there
