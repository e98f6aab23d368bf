"""PURE: a reading and its thresholds become one finding per check.

`previous` carries each check's last severity so that a level only clears once the balance
is above its threshold by `recovery_margin` (hysteresis: a balance hovering at the line
does not flap). A balance is at a level when it is strictly below that level's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from alertd.core.format import format_money
from alertd.core.model import Reading, Severity
from alertd.core.rules import Levels, Threshold

BALANCE = "balance"
FETCH = "fetch"


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one check of one reading; `threshold` is the level it is measured by;
    `held`: back above that level, but not yet by `recovery_margin`, so still at it."""

    check: str
    severity: Severity
    detail: str
    threshold: Decimal | None = None
    held: bool = False


def evaluate(
    reading: Reading, levels: Levels, previous: Mapping[str, Severity] | None = None
) -> dict[str, Finding]:
    previous = previous or {}
    findings = {BALANCE: _balance(reading, levels, previous.get(BALANCE, Severity.OK))}
    for signal in reading.signals:
        bad = signal.flagged or (
            signal.ratio is not None and signal.ratio >= levels.storage_warning
        )
        findings[signal.check] = Finding(
            signal.check, Severity.WARNING if bad else Severity.OK, signal.detail
        )
    return findings


def _levels(reading: Reading, levels: Levels) -> list[tuple[Severity, Decimal]]:
    """(severity, level in the reading's unit), worst first; unresolvable levels dropped."""
    resolved = []
    for severity, threshold in (
        (Severity.CRITICAL, levels.critical),
        (Severity.WARNING, levels.warning),
    ):
        if threshold is not None:
            level = threshold.resolve(reading.capacity)
            if level is not None:
                resolved.append((severity, level))
    return resolved


def _margin(level: Decimal, margin: Threshold) -> Decimal:
    """`5%` is relative to the level itself; a plain number is in the provider's unit."""
    return abs(level) * margin.value / 100 if margin.percent else margin.value


def _balance(reading: Reading, levels: Levels, previous: Severity) -> Finding:
    resolved = _levels(reading, levels)
    if not resolved:
        return Finding(BALANCE, Severity.OK, "no thresholds set")
    for severity, level in resolved:
        if reading.amount < level:
            shown = format_money(reading.money(level))
            return Finding(BALANCE, severity, f"below {severity.label} threshold {shown}", level)
        clears_at = level + _margin(level, levels.recovery_margin)
        if previous >= severity and reading.amount < clears_at:
            shown = format_money(reading.money(clears_at))
            detail = f"not yet back above {severity.label} threshold {shown}"
            return Finding(BALANCE, severity, detail, level, held=True)
    weakest = resolved[-1][1]
    return Finding(
        BALANCE,
        Severity.OK,
        f"above {resolved[-1][0].label} threshold {format_money(reading.money(weakest))}",
        weakest,
    )
