"""PURE: what `alertd check` shows, and its Nagios exit code, from poll results."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from alertd.core.evaluate import BALANCE, Finding
from alertd.core.forecast import Forecast, Outlook
from alertd.core.format import format_money, format_span
from alertd.core.model import Poll, Severity
from alertd.text import printable


class Status(enum.IntEnum):
    """Nagios plugin codes; `rank` orders them as SPEC §4: critical > unknown > warning > ok."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def rank(self) -> int:
        return {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}[self]


@dataclass(frozen=True, slots=True)
class Row:
    provider: str
    type: str
    status: Status
    balance: str
    unit: str
    detail: str
    data: Mapping[str, Any]
    runway: str = "-"


def runway_cell(forecast: Forecast | None) -> str:
    """The RUNWAY column: `~3.2 days`, `until reset`, `not burning`, `no history yet`."""
    if forecast is None or forecast.outlook is Outlook.NOT_ENOUGH_HISTORY:
        return "no history yet"
    if forecast.outlook is Outlook.NOT_BURNING:
        return "not burning"
    if forecast.outlook is Outlook.LASTS_UNTIL_RESET:
        return "until reset"
    if forecast.outlook is Outlook.EMPTY:
        return "used up"
    assert forecast.runway is not None
    return format_span(forecast.runway)


def forecast_data(forecast: Forecast | None) -> dict[str, Any]:
    """The forecast in `check --json`: strings for money, seconds for time, null when unknown."""
    if forecast is None:
        return {"outlook": Outlook.NOT_ENOUGH_HISTORY.value, "burn_rate_per_day": None,
                "runway_seconds": None, "runs_out_at": None, "resets_at": None}  # fmt: skip
    return {
        "outlook": forecast.outlook.value,
        "burn_rate_per_day": None
        if forecast.rate is None
        else str(forecast.rate.quantize(_PLACES)),
        "runway_seconds": None if forecast.runway is None else forecast.runway.total_seconds(),
        "runs_out_at": _iso(forecast.exhausted_at),
        "resets_at": _iso(forecast.resets_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def row(
    provider: str,
    provider_type: str,
    result: Poll,
    findings: Mapping[str, Finding] | None,
    forecast: Forecast | None = None,
) -> Row:
    if result.reading is None or findings is None:
        reason = result.failure.reason if result.failure else "no reading"
        return Row(
            provider,
            provider_type,
            Status.UNKNOWN,
            "-",
            "-",
            f"cannot check: {reason}",
            {"error": reason},
        )
    reading = result.reading
    worst = max(f.severity for f in findings.values())
    bad = [f.detail for f in findings.values() if f.severity > Severity.OK]
    detail = "; ".join(bad) if bad else findings[BALANCE].detail
    data: dict[str, Any] = {
        "balance": str(reading.amount),
        "display": format_money(reading.money()),
        "capacity": None if reading.capacity is None else str(reading.capacity),
        "breakdown": {k: str(v) for k, v in reading.breakdown.items()},
        "info": dict(reading.info),
        "checks": {
            name: {"severity": f.severity.label, "detail": f.detail} for name, f in findings.items()
        },
        "forecast": forecast_data(forecast),
    }
    return Row(
        provider,
        provider_type,
        Status(int(worst)),
        format_money(reading.money()),
        reading.unit,
        detail,
        data,
        runway_cell(forecast),
    )


def overall(rows: Iterable[Row]) -> Status:
    return max((r.status for r in rows), key=lambda s: s.rank, default=Status.OK)


def as_json(rows: Iterable[Row]) -> list[dict[str, Any]]:
    return [
        {
            "provider": r.provider,
            "type": r.type,
            "status": r.status.name,
            "unit": None if r.unit == "-" else r.unit,
            "detail": r.detail,
            **r.data,
        }
        for r in rows
    ]


def as_table(rows: Iterable[Row]) -> str:
    """One line per provider: every cell goes through `printable`, so a provider's text can
    neither move the cursor (ANSI escapes) nor start a forged row (newlines)."""
    header = ("PROVIDER", "BALANCE", "UNIT", "RUNWAY", "STATUS", "DETAIL")
    lines = [header] + [
        tuple(printable(cell, limit) for cell, limit in zip(cells, _LIMITS, strict=True))
        for cells in (
            (r.provider, r.balance, r.unit, r.runway, r.status.name, r.detail) for r in rows
        )
    ]
    return aligned(lines)


def aligned(lines: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last one is left ragged."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    )


_LIMITS = (80, 40, 40, 20, 10, 300)
_PLACES = Decimal("0.0001")  # characters per cell: a detail joins several findings
