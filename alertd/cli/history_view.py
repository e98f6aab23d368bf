"""PURE: what `alertd history NAME` prints: a sparkline, the burn rate and runway, the
top-ups and resets, and the readings (as a short table, CSV or JSON).

Every cell a provider could have influenced (units) goes through `printable`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from alertd.cli.check_table import forecast_data, runway_cell
from alertd.core.forecast import Forecast
from alertd.core.format import format_amount
from alertd.core.series import Event, EventKind, Sample
from alertd.series_json import event_json, sample_json, summary_json
from alertd.store.base import History
from alertd.text import printable

BARS = "▁▂▃▄▅▆▇█"
TABLE_ROWS = 24  # the terminal table shows this many readings, evenly spread


def points(history: History) -> list[Sample]:
    """Hourly summaries (older than the retention) then raw samples, oldest first."""
    older = [Sample(s.hour, s.last, s.unit) for s in history.summaries]
    return sorted([*older, *history.samples], key=lambda sample: sample.at)


def sparkline(series: Sequence[Sample], events: Sequence[Event], width: int = 60) -> str:
    """One bar per column (the last balance in it), scaled from the lowest to the highest;
    a second line marks with ^ the columns where the balance rose (top-up or reset)."""
    if not series:
        return ""
    first, last = series[0].at, series[-1].at
    span = (last - first).total_seconds() or 1.0
    columns: list[Decimal | None] = [None] * min(width, len(series))
    count = len(columns)

    def column(moment: datetime) -> int:
        return min(int((moment - first).total_seconds() / span * count), count - 1)

    for sample in series:
        columns[column(sample.at)] = sample.amount
    filled: list[Decimal] = []
    for value in columns:
        filled.append(value if value is not None else (filled[-1] if filled else series[0].amount))
    low, high = min(filled), max(filled)
    scale = (high - low) or Decimal(1)
    bars = "".join(BARS[int((v - low) / scale * (len(BARS) - 1))] for v in filled)
    marks = [" "] * count
    for event in events:
        if first <= event.at <= last:
            marks[column(event.at)] = "^"
    marked = "".join(marks).rstrip()
    return bars + ("\n" + marked if marked else "")


def _money(amount: Decimal, unit: str) -> str:
    return format_amount(amount, printable(unit, 20))


def _spread(series: Sequence[Sample], rows: int) -> list[Sample]:
    if len(series) <= rows:
        return list(series)
    step = (len(series) - 1) / (rows - 1)
    return [series[round(i * step)] for i in range(rows)]


def as_text(name: str, history: History, forecast: Forecast | None, since: datetime) -> str:
    series = points(history)
    header = f"{name}: history since {since:%Y-%m-%d %H:%M} UTC"
    if not series:
        return f"{header}\nno readings in this period"
    unit = series[-1].unit
    rises = [e for e in history.events if e.kind is EventKind.TOPUP]
    resets = [e for e in history.events if e.kind is EventKind.RESET]
    lines = [
        f"{header}: {len(history.samples)} readings, {len(history.summaries)} hourly summaries,"
        f" {len(rises)} top-ups, {len(resets)} resets",
        "",
        sparkline(series, history.events),
        f"{_money(series[0].amount, unit)} -> {_money(series[-1].amount, unit)}"
        f" (low {_money(min(s.amount for s in series), unit)},"
        f" high {_money(max(s.amount for s in series), unit)})",
        "",
    ]
    lines.extend(_forecast_lines(forecast, unit))
    if history.events:
        lines.extend(["", "TIME                  EVENT   RISE          BALANCE AFTER"])
        lines.extend(
            f"{e.at:%Y-%m-%d %H:%M} UTC  {e.kind.value:<6}  +{_money(e.amount, unit):<12}"
            f"  {_money(e.balance, unit)}"
            for e in history.events
        )
    shown = _spread(series, TABLE_ROWS)
    lines.extend(["", "TIME                  BALANCE"])
    lines.extend(f"{s.at:%Y-%m-%d %H:%M} UTC  {_money(s.amount, s.unit)}" for s in shown)
    if len(shown) < len(series):
        lines.append(f"({len(shown)} of {len(series)} points; --csv for all)")
    return "\n".join(lines)


def _forecast_lines(forecast: Forecast | None, unit: str) -> list[str]:
    if forecast is None or forecast.rate is None:
        return ["Burn rate: not enough history yet", f"Runway: {runway_cell(forecast)}"]
    window = forecast.window_rate or Decimal(0)
    recent = forecast.recent_rate or Decimal(0)
    cent = Decimal("0.01")
    lines = [
        f"Burn rate: {_money(forecast.rate.quantize(cent), unit)}/day"
        f" (window {_money(window.quantize(cent), unit)}/day,"
        f" last seventh {_money(recent.quantize(cent), unit)}/day)",
        f"Runway: {runway_cell(forecast)}",
    ]
    if forecast.exhausted_at is not None:
        lines[-1] += f" (around {forecast.exhausted_at:%Y-%m-%d %H:%M} UTC)"
    if forecast.resets_at is not None:
        lines.append(f"Quota resets: {forecast.resets_at:%Y-%m-%d %H:%M} UTC")
    return lines


def as_json(name: str, history: History, forecast: Forecast | None) -> dict[str, Any]:
    return {
        "provider": name,
        "readings": [sample_json(s, datetime.isoformat) for s in history.samples],
        "hourly_summaries": [summary_json(s, datetime.isoformat) for s in history.summaries],
        "events": [event_json(e, datetime.isoformat) for e in history.events],
        "forecast": forecast_data(forecast),
    }


def as_csv(history: History) -> str:
    """Every point: raw readings and hourly summaries (their last balance), and the events."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "kind", "amount", "unit", "capacity"])
    unit = history.samples[-1].unit if history.samples else ""
    rows: list[tuple[datetime, list[str]]] = [
        (s.hour, [s.hour.isoformat(), "hourly", str(s.last), s.unit, ""]) for s in history.summaries
    ]
    rows += [
        (r.at, [r.at.isoformat(), "reading", str(r.amount), r.unit, _text(r.capacity)])
        for r in history.samples
    ]
    rows += [
        (e.at, [e.at.isoformat(), e.kind.value, str(e.amount), unit, ""]) for e in history.events
    ]
    for _, row in sorted(rows, key=lambda item: item[0]):
        writer.writerow(row)
    return out.getvalue()


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)
