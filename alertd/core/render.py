"""PURE: a notification becomes a title, a body and an Apprise notify type (SPEC §3).

The title names severity, provider and what happened; the body states the balance in its
unit, the threshold, the breakdown, and when it was checked. Everything it says comes from
the structured `Notification` that `step` built; nothing is parsed back out of text.
Golden tests pin the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from alertd.core.evaluate import BALANCE, FETCH
from alertd.core.forecast import Forecast, Outlook
from alertd.core.format import format_money, format_span
from alertd.core.model import Reading, Severity
from alertd.core.state import Reason
from alertd.core.step import Notification

NOTIFY_TYPES = {
    Severity.WARNING: "warning",
    Severity.CRITICAL: "failure",
    Severity.OK: "success",
}
INFO = "info"
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    notify_type: str


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _headline(alert: Notification) -> str:
    level = alert.severity.label
    if alert.check == FETCH:
        if alert.reason is Reason.RESOLVED:
            return "balance can be checked again"
        still = " (still)" if alert.reason is Reason.REMINDER else ""
        return f"cannot check balance{still}: {alert.failure or alert.detail}"
    if alert.check == BALANCE:
        amount = format_money(alert.reading.money()) if alert.reading else "unknown"
        if _recovering(alert):
            held = f"not yet back above {level} threshold"
            improved = alert.reason is Reason.IMPROVED
            return f"balance {amount} {'improved, ' if improved else ''}{held}"
        if alert.reason is Reason.RESOLVED and alert.current > Severity.OK:
            # A destination with min_severity hears its alert end while a lower level holds.
            return f"balance {amount} back above {alert.previous.label} threshold"
        return {
            Reason.FIRST: f"balance {amount} below {level} threshold",
            Reason.ESCALATED: f"balance {amount} fell below {level} threshold",
            Reason.IMPROVED: f"balance {amount} improved, still below {level} threshold",
            Reason.REMINDER: f"balance {amount} still below {level} threshold",
            Reason.RESOLVED: f"balance {amount} back above threshold",
        }.get(alert.reason, f"balance {amount}")
    name = alert.check.replace("_", " ")
    if alert.reason is Reason.RESOLVED:
        return f"{name} back to normal"
    return alert.detail + (" (still)" if alert.reason is Reason.REMINDER else "")


def _recovering(alert: Notification) -> bool:
    """Back at or above the threshold, but held at its level by `recovery_margin`."""
    return alert.check == BALANCE and alert.reason is not Reason.RESOLVED and alert.held_by_margin


def render(alert: Notification) -> Message:
    tag = "RESOLVED" if alert.reason is Reason.RESOLVED else alert.severity.name
    title = f"[{tag}] {alert.provider}: {_headline(alert)}"
    lines = [
        f"Provider: {alert.provider} ({alert.provider_type})",
        f"Check: {alert.check}",
        f"Severity: {alert.severity.label} (was {alert.previous.label})",
        f"Reason: {alert.reason.value}",
    ]
    if alert.check == FETCH:
        lines.extend(_fetch_lines(alert))
    elif alert.reading is not None:
        lines.extend(_reading_lines(alert, alert.reading))
    lines.extend(_timing_lines(alert))
    notify_type = NOTIFY_TYPES[Severity.OK if alert.reason is Reason.RESOLVED else alert.severity]
    return Message(title, "\n".join(lines), notify_type)


def _fetch_lines(alert: Notification) -> list[str]:
    """The body of a fetch alert: the problem (or what resolved it) and the last balance."""
    resolved = alert.reason is Reason.RESOLVED
    lines = [f"{'Detail' if resolved else 'Problem'}: {alert.detail}"]
    if alert.failures and not resolved:
        lines.append(f"Consecutive failed polls: {alert.failures}")
    if alert.reading is not None:
        prefix = "Balance" if resolved else "Last known balance"
        lines.append(f"{prefix}: {format_money(alert.reading.money())}")
    return lines


def _reading_lines(alert: Notification, reading: Reading) -> list[str]:
    """The body of any other alert with a reading: balance, threshold, detail, capacity,
    breakdown and the provider's extra information."""
    lines = [f"Balance: {format_money(reading.money())}"]
    if alert.check == BALANCE and alert.threshold is not None:
        lines.append(f"Threshold: {format_money(reading.money(alert.threshold))}")
    if alert.forecast is not None:
        lines.extend(_forecast_line(alert.forecast, reading))
    if alert.check != BALANCE or alert.reason is Reason.RESOLVED or _recovering(alert):
        lines.append(f"Detail: {alert.detail}")
    if reading.capacity is not None:
        lines.append(f"Capacity: {format_money(reading.money(reading.capacity))}")
    if reading.breakdown:
        parts = [
            f"{k.replace('_', ' ')} {format_money(reading.money(v))}"
            for k, v in reading.breakdown.items()
        ]
        lines.append("Breakdown: " + ", ".join(parts))
    lines.extend(
        f"{key.replace('_', ' ').capitalize()}: {value}" for key, value in reading.info.items()
    )
    return lines


def _forecast_line(forecast: Forecast, reading: Reading) -> list[str]:
    """`Runs out: in ~3.2 days (around 2026-11-25 14:00 UTC) at $4.10/day`, when known."""
    if forecast.rate is None:
        return []
    rate = f"{format_money(reading.money(forecast.rate.quantize(_CENT)))}/day"
    if forecast.outlook is Outlook.EMPTY:
        return [f"Runs out: already used up, at {rate}"]
    if forecast.outlook is Outlook.NOT_BURNING:
        return []
    assert forecast.runway is not None
    assert forecast.exhausted_at is not None
    around = f"around {forecast.exhausted_at:%Y-%m-%d %H:%M} UTC"
    if forecast.outlook is Outlook.LASTS_UNTIL_RESET:
        assert forecast.resets_at is not None
        reset = f"{forecast.resets_at:%Y-%m-%d %H:%M} UTC"
        return [f"Runs out: not before the reset on {reset} (at {rate} it would be {around})"]
    return [f"Runs out: in {format_span(forecast.runway)} ({around}) at {rate}"]


def _timing_lines(alert: Notification) -> list[str]:
    """Since when the condition holds (unless it ended) and when it was checked."""
    lines = []
    if alert.since is not None and alert.reason is not Reason.RESOLVED:
        lines.append(f"Since: {_when(alert.since)}")
    reading = alert.reading
    checked = reading.checked_at if reading is not None and alert.check != FETCH else alert.now
    lines.append(f"Checked at: {_when(checked)}")
    return lines


def probe_message(notifier: str, now: datetime) -> Message:
    """What `alertd notify-test` sends."""
    return Message(
        f"[TEST] alertd notifier '{notifier}' works",
        f"This is a test message from alertd through notifier '{notifier}'.\nSent at: {_when(now)}",
        INFO,
    )
