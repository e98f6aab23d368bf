"""The status view (SPEC §8) as plain values: what each card says, and the order and totals
a person reads first. Providers are driven through the real `step`, forecasts included."""

from __future__ import annotations

from decimal import Decimal

from support.core import at

from alertd.core.model import Failure, Reading, Severity
from alertd.web.status import status_view
from web.cards import draining, watched


def test_worst_first_then_pending_then_ok_with_totals() -> None:
    fine = watched("fine", [(0, "100")])
    low = watched("low", [(0, "15")])
    broke = watched("broke", [(0, "3")])
    unchecked = watched("unchecked", [(h, Failure("timed out after 10s")) for h in range(3)])
    new = watched("new", [])
    sooner = draining("sooner", 19, 1, 48, burn_window="2d")  # warning, runs out sooner

    view = status_view([fine, low, new, broke, unchecked, sooner], at(48))

    assert [(p.name, p.severity) for p in view.providers] == [
        ("sooner", "critical"),  # used up (19 - 48 < 0): it ran out first
        ("broke", "critical"),
        ("low", "warning"),
        ("unchecked", "warning"),
        ("new", "pending"),
        ("fine", "ok"),
    ]
    assert view.totals == {"critical": 2, "warning": 2, "pending": 1, "ok": 1}
    assert view.worst == "critical"


def test_within_a_severity_the_one_that_runs_out_first_comes_first() -> None:
    slow = draining("a-slow", 150, 1, 48, burn_window="2d", runway_warning="30d")
    fast = draining("z-fast", 150, 2, 48, burn_window="2d", runway_warning="30d")
    view = status_view([slow, fast], at(48))
    assert [p.name for p in view.providers] == ["z-fast", "a-slow"]
    assert all(p.severity == "warning" for p in view.providers)


def test_a_card_states_balance_breakdown_share_levels_and_reason() -> None:
    reading = Reading(
        Decimal(1500),
        "credits",
        at(0),
        capacity=Decimal(10000),
        breakdown={"available": Decimal(10000), "consumed": Decimal(8500)},
    )
    card = watched("credits", [(0, reading)], type="lobstr", warning="20%", critical=500)

    [p] = status_view([card], at(0)).providers

    assert (p.balance, p.severity, p.reason) == (
        "1,500 credits",
        "warning",
        "below warning threshold 2,000 credits",
    )
    assert p.breakdown == (("available", "10,000 credits"), ("consumed", "8,500 credits"))
    assert (p.share, p.share_text) == (Decimal("0.15"), "15% of 10,000 credits")
    assert p.levels == {Severity.WARNING: Decimal(2000), Severity.CRITICAL: Decimal(500)}
    assert p.meter_levels == (("high", Decimal("0.2")), ("low", Decimal("0.05")))
    assert [(c.check, c.severity) for c in p.checks] == [
        ("balance", "warning"),
        ("fetch", "ok"),
    ]


def test_the_forecast_on_a_card() -> None:
    card = draining("wallet", 100, 1, 48, burn_window="2d")  # $1/hour for 2 days: $52 left
    [p] = status_view([card], at(48)).providers
    assert p.forecast is not None
    assert p.forecast.outlook == "runs out"
    assert p.forecast.burn == "$24.00/day"
    assert p.forecast.text == "runs out in ~2.2 days (around 2026-03-05 16:00 UTC)"
    assert p.forecast.runway is not None


def test_too_little_history_says_so() -> None:
    card = draining("wallet", 100, 1, 2, burn_window="7d")
    [p] = status_view([card], at(2)).providers
    assert p.forecast is not None
    assert p.forecast.text == "not enough history yet (2 hours of 1.0 days)"
    assert p.forecast.burn is None


def test_a_failed_poll_shows_its_error_before_it_counts_as_an_alert() -> None:
    card = watched("wallet", [(0, "100"), (1, Failure("provider unavailable (HTTP 502)"))])
    [p] = status_view([card], at(1)).providers
    assert (p.severity, p.error) == ("ok", "provider unavailable (HTTP 502)")
    assert p.reason == "last poll failed: provider unavailable (HTTP 502)"
    assert p.balance == "$100.00"  # the last good reading stays
    assert p.last_poll_at == at(1)
    assert p.checked_at == at(0)


def test_text_from_a_provider_is_made_printable() -> None:
    card = watched("wallet", [(0, Failure("bad\x1b[31m red\nsecond line \u202e"))])
    [p] = status_view([card], at(0)).providers
    assert p.error == "bad\\x1b[31m red\\x0asecond line \\u202e"


def test_a_provider_never_polled_is_pending() -> None:
    [p] = status_view([watched("new", [])], at(0)).providers
    assert (p.severity, p.reason, p.balance, p.checks) == (
        "pending",
        "waiting for the first poll",
        None,
        (),
    )
