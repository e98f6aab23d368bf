"""What `alertd history` prints, from a History and its forecast (the store's side is tested
in tests/store, the command end to end in tests/e2e/test_runway_e2e.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alertd.cli.history_view import as_csv, as_json, as_text, sparkline
from alertd.core.burn import project, replay
from alertd.core.series import Event, EventKind, Sample, Summary
from alertd.store.base import History

T0 = datetime(2026, 11, 15, tzinfo=UTC)
WEEK = timedelta(days=7)


def drain_with_top_up() -> History:
    """$10/day from $80 for 4 days, read hourly, $100 added after 2 days."""
    samples, events = [], []
    for hour in range(4 * 24 + 1):
        at = T0 + timedelta(hours=hour)
        amount = Decimal(80) - Decimal(10) * hour / 24 + (100 if hour >= 48 else 0)
        samples.append(Sample(at, amount.quantize(Decimal("0.01")), "USD"))
    events.append(Event(T0 + timedelta(hours=48), EventKind.TOPUP, Decimal("99.58"), Decimal(160)))
    return History("render-farm", tuple(samples), (), tuple(events))


def test_sparkline_falls_rises_at_the_top_up_and_marks_it() -> None:
    history = drain_with_top_up()
    bars, marks = sparkline(history.samples, history.events, width=48).split("\n")
    assert len(bars) == 48
    assert bars[0] == "▂"  # $80: a fifth of the way from the low ($60.42) to the high ($160)
    assert bars[23] == "▁"  # the low just before the top-up
    assert bars[24] == "█"  # $160 right after it
    assert marks.index("^") == 24
    assert marks.count("^") == 1


def test_text_has_the_burn_rate_runway_events_and_a_short_table() -> None:
    history = drain_with_top_up()
    now = history.samples[-1].at
    forecast = project(replay(list(history.samples), WEEK), WEEK, now)
    text = as_text("render-farm", history, forecast, T0)
    assert text.startswith(
        "render-farm: history since 2026-11-15 00:00 UTC: 97 readings, 0 hourly summaries,"
        " 1 top-ups, 0 resets"
    )
    assert "$80.00 -> $140.00 (low $60.42, high $160.00)" in text
    # the window misses the hour of spending hidden in the top-up: the faster rate wins
    assert "Burn rate: $10.00/day (window $9.90/day, last seventh $10.00/day)" in text
    assert "Runway: ~14.0 days (around 2026-12-03 00:00 UTC)" in text
    assert "2026-11-17 00:00 UTC  topup   +$99.58" in text
    assert "(24 of 97 points; --csv for all)" in text


def test_a_provider_without_readings_says_so() -> None:
    assert as_text("idle", History("idle"), None, T0).endswith("no readings in this period")


def test_csv_has_every_point_and_event_in_time_order() -> None:
    history = drain_with_top_up()
    summary = Summary(T0 - timedelta(hours=1), "USD", Decimal(81), Decimal(80), Decimal(80),
                      Decimal(81), Decimal(1), 12)  # fmt: skip
    history = History(history.provider, history.samples, (summary,), history.events)
    rows = list(csv.DictReader(io.StringIO(as_csv(history))))
    assert len(rows) == 1 + 97 + 1
    assert rows[0] == {"time": "2026-11-14T23:00:00+00:00", "kind": "hourly", "amount": "80",
                       "unit": "USD", "capacity": ""}  # fmt: skip
    assert [r["kind"] for r in rows].count("topup") == 1
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)


def test_json_keeps_money_exact_and_carries_the_forecast() -> None:
    history = drain_with_top_up()
    forecast = project(replay(list(history.samples), WEEK), WEEK, history.samples[-1].at)
    document = json.loads(json.dumps(as_json("render-farm", history, forecast)))
    assert document["readings"][1] == {
        "at": "2026-11-15T01:00:00+00:00",
        "amount": "79.58",
        "unit": "USD",
        "capacity": None,
    }
    assert document["events"] == [
        {"at": "2026-11-17T00:00:00+00:00", "kind": "topup", "amount": "99.58", "balance": "160"}
    ]
    assert document["forecast"]["outlook"] == "runs out"
    assert document["forecast"]["burn_rate_per_day"] == "10.0000"
