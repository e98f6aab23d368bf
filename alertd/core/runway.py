"""PURE: the forecast judged by the runway levels and the spend-spike factor (SPEC §6).

`runway` is a check like `balance` (§3): it fires when the balance is forecast to run out
within `runway_warning` / `runway_critical`, with `recovery_margin` applied to the days, so a
runway hovering at a level does not flap. No forecast (not enough history), no burn, or a
quota that lasts until its reset: `ok`, never an alert. A top-up lengthens the runway and so
resolves it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from alertd.core.evaluate import Finding
from alertd.core.forecast import Forecast, Outlook
from alertd.core.format import format_level, format_span
from alertd.core.model import Severity
from alertd.core.rules import Forecasting, Threshold

RUNWAY = "runway"
SPEND_SPIKE = "spend_spike"


def forecast_findings(
    forecast: Forecast, rules: Forecasting, margin: Threshold, previous: dict[str, Severity]
) -> dict[str, Finding]:
    """The runway and spend-spike findings this forecast gives, for the checks configured."""
    findings = {}
    if rules.runway_levels:
        findings[RUNWAY] = runway_finding(forecast, rules, margin, previous.get(RUNWAY))
    if rules.spend_spike is not None:
        findings[SPEND_SPIKE] = spike_finding(forecast, rules.spend_spike, rules.burn_window)
    return findings


def _quiet(forecast: Forecast) -> str | None:
    """Why this forecast cannot give a runway alert, or None when it can."""
    if forecast.outlook is Outlook.NOT_ENOUGH_HISTORY:
        return (
            f"not enough history yet ({format_span(forecast.history).lstrip('~')}"
            f" of the {format_level(forecast.needed)} a forecast needs)"
        )
    if forecast.outlook is Outlook.NOT_BURNING:
        return "not burning: the balance did not fall within the burn window"
    if forecast.outlook is Outlook.LASTS_UNTIL_RESET:
        assert forecast.resets_at is not None
        return f"lasts until the reset on {forecast.resets_at:%Y-%m-%d %H:%M} UTC"
    return None


def runway_finding(
    forecast: Forecast, rules: Forecasting, margin: Threshold, previous: Severity | None
) -> Finding:
    quiet = _quiet(forecast)
    if quiet is not None:
        return Finding(RUNWAY, Severity.OK, quiet)
    runway = forecast.runway or timedelta(0)
    told = "used up" if forecast.outlook is Outlook.EMPTY else f"runs out in {format_span(runway)}"
    resets, ends = forecast.resets_at, forecast.exhausted_at
    before = " (before the reset)" if resets and ends and ends < resets else ""
    for severity, level in rules.runway_levels:
        within = f"{told}{before}, within the {severity.label} runway of {format_level(level)}"
        if runway < level:
            return Finding(RUNWAY, severity, within)
        if (
            previous is not None
            and previous >= severity
            and runway < level + _days(margin, level, forecast.rate)
        ):
            return Finding(RUNWAY, severity, f"{told}: not yet clear of the {format_level(level)}"
                           f" {severity.label} runway", held=True)  # fmt: skip
    weakest = rules.runway_levels[-1][1]
    return Finding(RUNWAY, Severity.OK, f"{told}{before}, beyond {format_level(weakest)}")


def _days(margin: Threshold, level: timedelta, rate: Decimal | None) -> timedelta:
    """`recovery_margin` in time: a percentage of the level, or an amount of the balance's
    unit turned into the time it lasts at the current rate."""
    if margin.percent:
        return level * float(margin.value / 100)
    if not rate or margin.value <= 0:
        return timedelta(0)
    return timedelta(days=float(margin.value / rate))


def spike_finding(forecast: Forecast, factor: Decimal, window: timedelta) -> Finding:
    """`warning` while the last seventh's rate is at least `factor` times the window's."""
    recent, average = forecast.recent_rate, forecast.window_rate
    if forecast.outlook is Outlook.NOT_ENOUGH_HISTORY or recent is None or not average:
        return Finding(SPEND_SPIKE, Severity.OK, "no spending to compare yet")
    ratio = recent / average
    shown = f"{ratio:.1f}x the {format_level(window)} average"
    if ratio >= factor:
        return Finding(SPEND_SPIKE, Severity.WARNING, f"spending spiked to {shown}")
    return Finding(SPEND_SPIKE, Severity.OK, f"spending at {shown}")
