"""How amounts read, and which severity a reading gets: pure code, tested as tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from alertd.config.model import ProviderConfig
from alertd.config.rules import levels_of
from alertd.core.evaluate import BALANCE, evaluate
from alertd.core.format import format_amount, format_money
from alertd.core.model import Money, Reading, Severity, Signal
from alertd.core.rules import Levels

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OK, WARNING, CRITICAL = Severity.OK, Severity.WARNING, Severity.CRITICAL


# -- units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "unit", "shown"),
    [
        ("7189.245", "USD", "$7,189.245"),  # fractional cents are kept, not rounded away
        ("1E-999990", "USD", "$0.000000"),  # absurd precision is cut to 6 places, not shown whole
        ("1250.75", "USD", "$1,250.75"),
        ("-3", "USD", "-$3.00"),  # an overdrawn account
        ("0", "USD", "$0.00"),
        ("1234567.5", "USD", "$1,234,567.50"),
        ("1234.56", "EUR", "€1,234.56"),
        ("1234.5", "CHF", "1,234.50 CHF"),  # a currency code without a symbol
        ("8450", "credits", "8,450 credits"),
        ("8450.00", "credits", "8,450 credits"),
        ("1E+3", "credits", "1,000 credits"),  # never scientific notation
        ("0.5", "credits", "0.5 credits"),
        ("-5", "credits", "-5 credits"),
    ],
)
def test_format_amount(amount: str, unit: str, shown: str) -> None:
    assert format_amount(Decimal(amount), unit) == shown


@pytest.mark.parametrize(
    ("cents", "shown"),
    [
        (1700, "$17.00 (1,700 renders)"),
        (850, "$8.50 (850 renders)"),
        (1, "$0.01 (1 render)"),
        (-300, "-$3.00 (-300 renders)"),
    ],
)
def test_browser7_balance_is_also_shown_in_renders(cents: int, shown: str) -> None:
    money = Money(Decimal(cents) / 100, "USD", alt_per_unit=Decimal(100), alt_unit="renders")
    assert format_money(money) == shown


def test_money_without_second_unit_is_just_the_amount() -> None:
    assert format_money(Money(Decimal("1250.75"), "USD")) == "$1,250.75"


# -- evaluate: helpers -----------------------------------------------------------------------


def policy(provider_type: str = "browser7", **keys: Any) -> Levels:
    """A provider's levels as the config file would give them (strings parsed the same way)."""
    return levels_of(ProviderConfig.model_validate({"type": provider_type, "api_key": "k", **keys}))


def usd(amount: str, **extra: Any) -> Reading:
    return Reading(
        amount=Decimal(amount),
        unit="USD",
        checked_at=NOW,
        alt_per_unit=Decimal(100),
        alt_unit="renders",
        **extra,
    )


def credits(amount: str, capacity: str | None = "10000", **extra: Any) -> Reading:
    cap = None if capacity is None else Decimal(capacity)
    return Reading(amount=Decimal(amount), unit="credits", checked_at=NOW, capacity=cap, **extra)


def severity(reading: Reading, cfg: Levels, previous: Severity | None = None) -> Severity:
    prev = None if previous is None else {BALANCE: previous}
    return evaluate(reading, cfg, prev)[BALANCE].severity


# -- evaluate: levels ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("100", OK),
        ("20.01", OK),
        ("20", OK),  # at the threshold is not below it
        ("19.99", WARNING),
        ("5.01", WARNING),
        ("5", WARNING),
        ("4.99", CRITICAL),
        ("0", CRITICAL),
        ("-3", CRITICAL),  # overdrawn: below every threshold
    ],
)
def test_strictly_below_a_threshold(amount: str, expected: Severity) -> None:
    assert severity(usd(amount), policy(warning=20, critical=5)) == expected


def test_findings_say_what_and_by_which_threshold() -> None:
    cfg = policy(warning=20, critical=5)
    warning = evaluate(usd("17"), cfg)[BALANCE]
    assert warning.detail == "below warning threshold $20.00 (2,000 renders)"
    assert warning.threshold == Decimal(20)
    critical = evaluate(usd("4"), cfg)[BALANCE]
    assert critical.detail == "below critical threshold $5.00 (500 renders)"
    assert critical.threshold == Decimal(5)
    ok = evaluate(usd("50"), cfg)[BALANCE]
    assert ok.detail == "above warning threshold $20.00 (2,000 renders)"


def test_only_one_level_set() -> None:
    assert severity(usd("4"), policy(critical=5)) == CRITICAL
    assert severity(usd("6"), policy(critical=5)) == OK
    assert severity(usd("4"), policy(warning=5)) == WARNING


def test_no_thresholds_is_ok() -> None:
    finding = evaluate(usd("-100"), policy())[BALANCE]
    assert (finding.severity, finding.detail) == (OK, "no thresholds set")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("2001", OK),
        ("2000", OK),  # 20% of 10,000, exactly
        ("1999", WARNING),
        ("500", WARNING),
        ("499", CRITICAL),  # 5% of 10,000
    ],
)
def test_percent_thresholds_against_capacity(amount: str, expected: Severity) -> None:
    assert severity(credits(amount), policy("lobstr", warning="20%", critical="5%")) == expected


def test_percent_threshold_follows_the_capacity_of_each_reading() -> None:
    cfg = policy("lobstr", warning="20%")
    assert severity(credits("1500", capacity="10000"), cfg) == WARNING  # level 2,000
    assert severity(credits("1500", capacity="5000"), cfg) == OK  # level 1,000
    detail = evaluate(credits("1500", capacity="10000"), cfg)[BALANCE].detail
    assert detail == "below warning threshold 2,000 credits"


def test_percent_and_absolute_levels_mixed() -> None:
    cfg = policy("lobstr", warning="20%", critical=500)
    assert severity(credits("1999"), cfg) == WARNING
    assert severity(credits("499"), cfg) == CRITICAL


def test_percent_threshold_is_skipped_when_a_reading_has_no_capacity() -> None:
    cfg = policy("lobstr", warning="20%", critical=500)
    assert severity(credits("600", capacity=None), cfg) == OK
    assert severity(credits("400", capacity=None), cfg) == CRITICAL


# -- evaluate: recovery margin (hysteresis) --------------------------------------------------


@pytest.mark.parametrize(
    ("margin", "previous", "amount", "expected"),
    [
        # absolute margin of $2 on a $20 warning level: clears at $22
        ("2", WARNING, "20", WARNING),
        ("2", WARNING, "21.99", WARNING),
        ("2", WARNING, "22", OK),
        ("2", OK, "20", OK),  # never warned: no stickiness
        ("2", OK, "19", WARNING),
        # 5% of the level itself ($1 on $20): clears at $21
        ("5%", WARNING, "20.99", WARNING),
        ("5%", WARNING, "21", OK),
        ("5%", OK, "20.5", OK),
        # critical ($10) sticks until $10.50, then drops to warning (still below $20)
        ("5%", CRITICAL, "10.2", CRITICAL),
        ("5%", CRITICAL, "10.5", WARNING),
        ("5%", CRITICAL, "20.5", WARNING),  # and warning's own margin still applies
        ("5%", CRITICAL, "21", OK),
        # the margin never delays a worse level
        ("5%", WARNING, "9.99", CRITICAL),
        ("5%", OK, "9.99", CRITICAL),
        # no margin (the default): clears as soon as it is at the level again
        ("0", WARNING, "20", OK),
        ("0", CRITICAL, "10", WARNING),
    ],
)
def test_recovery_margin(margin: str, previous: Severity, amount: str, expected: Severity) -> None:
    cfg = policy(warning=20, critical=10, recovery_margin=margin)
    assert severity(usd(amount), cfg, previous) == expected


def test_recovery_margin_detail_names_the_level_to_clear() -> None:
    cfg = policy(warning=20, recovery_margin="5%")
    finding = evaluate(usd("20.50"), cfg, {BALANCE: WARNING})[BALANCE]
    assert finding.severity == WARNING
    assert finding.detail == "not yet back above warning threshold $21.00 (2,100 renders)"


def test_recovery_margin_on_a_percent_threshold() -> None:
    # 20% of 10,000 credits = 2,000; a 5% margin of that level = 100 -> clears at 2,100
    cfg = policy("lobstr", warning="20%", recovery_margin="5%")
    assert severity(credits("2050"), cfg, WARNING) == WARNING
    assert severity(credits("2100"), cfg, WARNING) == OK
    absolute = policy("lobstr", warning="20%", recovery_margin=300)
    assert severity(credits("2299"), absolute, WARNING) == WARNING
    assert severity(credits("2300"), absolute, WARNING) == OK


# -- evaluate: extra signals -----------------------------------------------------------------


def test_flagged_signal_is_a_warning_of_its_own() -> None:
    reading = credits(
        "9000",
        signals=(Signal("unpaid_bill", "unpaid bill outstanding", flagged=True),),
    )
    findings = evaluate(reading, policy("lobstr", warning="20%"))
    assert findings[BALANCE].severity == OK
    assert findings["unpaid_bill"].severity == WARNING
    assert findings["unpaid_bill"].detail == "unpaid bill outstanding"


def test_unflagged_signal_is_ok() -> None:
    reading = credits("9000", signals=(Signal("unpaid_bill", "no unpaid bill"),))
    assert evaluate(reading, policy("lobstr"))["unpaid_bill"].severity == OK


@pytest.mark.parametrize(
    ("ratio", "limit", "expected"),
    [
        ("0.02", None, OK),
        ("0.8999", None, OK),
        ("0.9", None, WARNING),  # default 90%: at the limit is already too full
        ("0.95", None, WARNING),
        ("0.85", "80%", WARNING),
        ("0.85", "0.9", OK),
        ("1.2", "100%", WARNING),  # over quota
    ],
)
def test_storage_ratio_against_storage_warning(
    ratio: str, limit: str | None, expected: Severity
) -> None:
    signal = Signal("storage", "storage 9 GB of 10 GB used (90%)", ratio=Decimal(ratio))
    keys = {} if limit is None else {"storage_warning": limit}
    finding = evaluate(credits("1000", signals=(signal,)), policy("srtgen", **keys))["storage"]
    assert finding.severity == expected
    assert finding.detail == "storage 9 GB of 10 GB used (90%)"


def test_each_signal_is_its_own_check() -> None:
    signals = (
        Signal("plan_status", "Starter Plan is past_due", flagged=True),
        Signal("storage", "storage 1 GB of 10 GB used (10%)", ratio=Decimal("0.1")),
    )
    findings = evaluate(credits("50", signals=signals), policy("srtgen", critical=100))
    assert {name: f.severity for name, f in findings.items()} == {
        BALANCE: CRITICAL,
        "plan_status": WARNING,
        "storage": OK,
    }
