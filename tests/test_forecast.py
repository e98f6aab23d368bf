"""The burn rate and runway (SPEC §6) against synthetic balance series with a known truth.

Each series is a list of (time, balance) readings built from a spending pattern whose true
rate is known; the forecast is taken at the last reading, through `track` and `project`
exactly as `step` uses them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alertd.core.burn import Burn, project, replay, track
from alertd.core.forecast import Forecast, Outlook
from alertd.core.series import Event, EventKind, Sample

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
Series = list[tuple[datetime, Decimal, datetime | None]]  # (at, balance, resets_at)


def day(days: float) -> datetime:
    return T0 + timedelta(days=days)


def run(series: Series, window: timedelta = WEEK) -> tuple[Forecast, list[Event]]:
    burn, events = Burn(), []
    for at, amount, resets_at in series:
        burn, event = track(burn, Sample(at, amount, "USD"), resets_at, window)
        if event is not None:
            events.append(event)
    forecast = project(burn, window, series[-1][0])
    assert forecast is not None
    return forecast, events


def steady(start: str, per_day: str, days: float, every: timedelta) -> Series:
    rate, balance = Decimal(per_day), Decimal(start)
    series: Series = []
    steps = int(timedelta(days=days) / every)
    for i in range(steps + 1):
        at = T0 + every * i
        series.append((at, balance - rate * Decimal((at - T0).total_seconds()) / 86400, None))
    return series


def days_of(span: timedelta | None) -> float:
    assert span is not None
    return span.total_seconds() / 86400


@dataclass(frozen=True)
class Case:
    name: str
    series: Callable[[], Series]
    true_runway_days: float | None
    outlook: Outlook
    tolerance: tuple[float, float] = (0.95, 1.05)  # forecast / truth


def _step_wise() -> Series:
    """A $10 job every 4 hours ($60/day), read every 15 minutes, for 5 days."""
    series: Series = []
    balance = Decimal(1000)
    for i in range(5 * 96 + 1):
        at = T0 + timedelta(minutes=15 * i)
        if i and i % 16 == 0:
            balance -= 10
        series.append((at, balance, None))
    return series


def _top_up_midway() -> Series:
    """$10/day for 4 days, $100 added on day 2."""
    series: Series = []
    for at, balance, _ in steady("80", "10", 4, timedelta(hours=1)):
        series.append((at, balance + (100 if at >= day(2) else 0), None))
    return series


def _noisy() -> Series:
    """About $24/day in irregular amounts at irregular times (seeded)."""
    rng, balance, at = random.Random(7), Decimal(2000), T0
    series: Series = []
    while at < day(6):
        series.append((at, balance, None))
        at += timedelta(minutes=rng.uniform(5, 55))
        balance -= Decimal(str(round(rng.uniform(0, 1), 2)))  # mean $0.50 per 30 min
    return series


def _gap() -> Series:
    """$10/day, no readings from day 2 to day 5 (spending went on meanwhile)."""
    return [
        row for row in steady("100", "10", 7, timedelta(hours=1)) if not day(2) < row[0] < day(5)
    ]


def _only_rises() -> Series:
    return [(day(i / 24), Decimal(100 + i), None) for i in range(72)]


def _too_short() -> Series:
    return steady("100", "10", 0.5, timedelta(minutes=30))  # half a day of a 7-day window


def _negative() -> Series:
    return steady("20", "10", 3, timedelta(hours=1))  # crosses zero on day 2: -$10 now


CASES = [
    # steady: $5/day from $100 for 3 days: $85 left, 17 days to go
    Case(
        "steady drain", lambda: steady("100", "5", 3, timedelta(minutes=30)), 17, Outlook.RUNS_OUT
    ),
    # the recent seventh may hold one job more than its share: earlier, never later
    Case("step-wise jobs", _step_wise, (1000 - 300) / 60, Outlook.RUNS_OUT, (0.8, 1.0)),
    Case("top-up midway", _top_up_midway, 140 / 10, Outlook.RUNS_OUT),
    Case("noise", _noisy, None, Outlook.RUNS_OUT),
    Case("gap of days", _gap, 30 / 10, Outlook.RUNS_OUT),
    Case("only rises", _only_rises, None, Outlook.NOT_BURNING),
    Case("too little history", _too_short, None, Outlook.NOT_ENOUGH_HISTORY),
    Case("negative balance", _negative, 0, Outlook.EMPTY),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_forecast_against_a_known_truth(case: Case) -> None:
    series = case.series()
    forecast, _ = run(series)
    assert forecast.outlook is case.outlook
    if case.true_runway_days is None:
        return
    if case.true_runway_days == 0:
        assert forecast.runway == timedelta(0)
        return
    ratio = days_of(forecast.runway) / case.true_runway_days
    low, high = case.tolerance
    assert low <= ratio <= high, (
        f"runway {days_of(forecast.runway):.2f} d vs {case.true_runway_days}"
    )


def test_noisy_spending_is_read_at_its_mean_rate() -> None:
    series = _noisy()
    spent = series[0][1] - series[-1][1]
    true_rate = spent / Decimal((series[-1][0] - series[0][0]).total_seconds() / 86400)
    forecast, events = run(series)
    assert events == []  # irregular spending is still only spending
    assert forecast.rate is not None
    assert 0.9 <= float(forecast.rate / true_rate) <= 1.25  # the faster window may lead


def test_a_top_up_is_an_event_not_negative_spending() -> None:
    forecast, events = run(_top_up_midway())
    # The rise seen is the top-up less the hour's spending between the two readings.
    assert [e.kind for e in events] == [EventKind.TOPUP]
    assert float(events[0].amount) == pytest.approx(100 - 10 / 24)
    assert forecast.rate is not None
    assert float(forecast.rate) == pytest.approx(10, rel=0.01)
    assert forecast.topups == 1


def test_a_balance_that_only_rises_has_no_runway() -> None:
    forecast, events = run(_only_rises())
    assert forecast.rate == 0
    assert forecast.runway is None
    assert len(events) == 71


def test_too_little_history_says_how_much_there_is_and_is_needed() -> None:
    forecast, _ = run(_too_short())
    assert forecast.history == timedelta(hours=12)
    assert forecast.needed == timedelta(days=1)
    assert forecast.rate is None
    assert forecast.runway is None


def test_a_sudden_acceleration_shows_at_once() -> None:
    """$10/day for 6 days, then $70/day: the last seventh's rate wins."""
    calm = steady("1000", "10", 6, timedelta(hours=1))
    last_at, last_balance, _ = calm[-1]
    fast: Series = [
        (last_at + timedelta(hours=h), last_balance - Decimal(70) * h / 24, None)
        for h in range(1, 25)
    ]
    forecast, _ = run(calm + fast)
    assert forecast.recent_rate is not None
    assert forecast.window_rate is not None
    assert float(forecast.recent_rate) == pytest.approx(70, rel=0.05)
    assert float(forecast.window_rate) == pytest.approx(18.6, rel=0.05)  # (60 + 70) / 7
    assert forecast.rate == forecast.recent_rate


def _monthly_quota(per_day: int, days: float) -> Series:
    """A 3,000-credit quota that refills on the 1st of each month, read hourly from Nov 1."""
    series: Series = []
    for hour in range(int(days * 24) + 1):
        at = T0 + timedelta(hours=hour)
        month_start = (
            T0 if at < datetime(2026, 12, 1, tzinfo=UTC) else datetime(2026, 12, 1, tzinfo=UTC)
        )
        next_reset = (
            datetime(2026, 12, 1, tzinfo=UTC)
            if month_start == T0
            else datetime(2027, 1, 1, tzinfo=UTC)
        )
        used = Decimal(per_day) * Decimal((at - month_start).total_seconds()) / 86400
        series.append((at, max(Decimal(3000) - used, Decimal(0)), next_reset))
    return series


def test_a_quota_that_lasts_until_its_reset_has_no_runway_alert() -> None:
    forecast, _ = run(_monthly_quota(80, 10))  # 2,200 left on Nov 11 at 80/day: 27.5 days
    assert forecast.outlook is Outlook.LASTS_UNTIL_RESET
    assert forecast.resets_at == datetime(2026, 12, 1, tzinfo=UTC)


def test_a_quota_that_runs_out_before_its_reset() -> None:
    forecast, _ = run(_monthly_quota(150, 10))  # 1,500 left on Nov 11 at 150/day: 10 days
    assert forecast.outlook is Outlook.RUNS_OUT
    assert days_of(forecast.runway) == pytest.approx(10, rel=0.05)
    assert forecast.exhausted_at is not None
    assert forecast.exhausted_at < datetime(2026, 12, 1, tzinfo=UTC)


def test_a_monthly_reset_is_a_reset_event_and_spending_goes_on_at_its_rate() -> None:
    forecast, events = run(_monthly_quota(80, 33))  # across the Dec 1 refill
    assert [(e.kind, e.at) for e in events] == [
        (EventKind.RESET, datetime(2026, 12, 1, tzinfo=UTC))
    ]
    assert forecast.rate is not None
    assert float(forecast.rate) == pytest.approx(80, rel=0.02)
    assert forecast.resets_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_rise_long_before_the_reported_reset_is_a_top_up() -> None:
    resets = datetime(2026, 12, 1, tzinfo=UTC)
    series: Series = [
        (day(0), Decimal(100), resets),
        (day(1), Decimal(90), resets),
        (day(2), Decimal(500), resets),
    ]
    _, events = run(series)
    assert [e.kind for e in events] == [EventKind.TOPUP]


def test_runway_counts_from_now_and_exhaustion_from_the_last_reading() -> None:
    burn = replay(
        [Sample(day(d / 24), Decimal(100) - Decimal(d) / 24 * 10, "USD") for d in range(49)], WEEK
    )
    at_last = project(burn, WEEK, day(2))
    a_day_later = project(burn, WEEK, day(3))
    assert at_last is not None
    assert a_day_later is not None
    assert at_last.exhausted_at == a_day_later.exhausted_at == day(10)
    assert days_of(at_last.runway) == pytest.approx(8)
    assert days_of(a_day_later.runway) == pytest.approx(7)


def test_out_of_order_readings_and_a_unit_change() -> None:
    burn, _ = track(Burn(), Sample(day(1), Decimal(50), "USD"), None, WEEK)
    same, event = track(burn, Sample(day(0), Decimal(10), "USD"), None, WEEK)
    assert same is burn
    assert event is None
    restarted, _ = track(burn, Sample(day(2), Decimal(9000), "credits"), None, WEEK)
    assert restarted.first_at == day(2)
    assert restarted.spent == 0


def test_memory_stays_bounded_over_a_year_of_minutely_readings() -> None:
    burn = Burn()
    for minute in range(0, 365 * 24 * 60, 7):
        at = T0 + timedelta(minutes=minute)
        burn, _ = track(burn, Sample(at, Decimal(10**9 - minute), "USD"), None, WEEK)
    assert len(burn.mark_times) == len(burn.mark_spent) <= 58
