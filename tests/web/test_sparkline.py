"""The sparkline's geometry: one point per reading, higher balances higher up, top-ups marked
where the balance rose to, threshold lines only where the chart reaches them, and a year of
readings thinned to a small page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from support.core import T0, at

from alertd.core.model import Severity
from alertd.core.series import Event, EventKind, Sample
from alertd.web.sparkline import HEIGHT, MAX_POINTS, PAD, WIDTH, sparkline


def samples(*amounts: int | str, every: timedelta = timedelta(hours=1)) -> list[Sample]:
    return [Sample(T0 + i * every, Decimal(str(a)), "USD") for i, a in enumerate(amounts)]


def test_points_follow_the_readings() -> None:
    readings = samples(100, 80, 90, 20, 50)
    spark = sparkline(readings, [], {}, at(4))
    assert spark is not None
    xs = [x for x, _ in spark.points]
    ys = [y for _, y in spark.points]
    assert xs == [0, 60, 120, 180, 240]  # from the first reading to now, evenly
    assert ys[0] == PAD  # the highest balance at the top
    assert ys[3] == HEIGHT - PAD  # the lowest at the bottom
    assert sorted(range(5), key=lambda i: ys[i]) == [0, 2, 1, 4, 3]  # 100 > 90 > 80 > 50 > 20
    assert spark.polyline == "0,3 60,13.5 120,8.2 180,45 240,29.2"
    assert (spark.low, spark.high, spark.start) == (Decimal(20), Decimal(100), T0)


def test_the_line_ends_where_now_is() -> None:
    spark = sparkline(samples(10, 9), [], {}, at(3))  # last reading 2 h ago of 3
    assert spark is not None
    assert [x for x, _ in spark.points] == [0, 80]


def test_top_ups_are_marked_at_the_balance_they_rose_to() -> None:
    readings = samples(30, 10, 60, 50)
    topup = Event(at(2), EventKind.TOPUP, Decimal(50), Decimal(60))
    old = Event(at(-5), EventKind.TOPUP, Decimal(5), Decimal(30))  # before the chart
    spark = sparkline(readings, [old, topup], {}, at(3))
    assert spark is not None
    [marker] = spark.markers
    assert (marker.x, marker.y, marker.event) == (160, PAD, topup)


def test_threshold_lines_only_within_the_drawn_range() -> None:
    levels = {Severity.WARNING: Decimal(50), Severity.CRITICAL: Decimal(5)}
    spark = sparkline(samples(100, 20), [], levels, at(1))
    assert spark is not None
    assert [(line.severity, line.y) for line in spark.levels] == [(Severity.WARNING, 29.2)]


def test_a_flat_balance_is_a_line_across_the_middle() -> None:
    spark = sparkline(samples(7, 7, 7), [], {}, at(2))
    assert spark is not None
    assert {y for _, y in spark.points} == {HEIGHT / 2}


def test_a_year_of_readings_is_thinned() -> None:
    year = samples(*range(10_000, 0, -1), every=timedelta(minutes=53))
    spark = sparkline(year, [], {}, year[-1].at)
    assert spark is not None
    assert len(spark.points) <= MAX_POINTS
    assert spark.points[0] == (0, PAD)
    assert spark.points[-1] == (WIDTH, HEIGHT - PAD)  # the last reading is kept
    xs = [x for x, _ in spark.points]
    assert xs == sorted(xs)


def test_no_readings_no_sparkline() -> None:
    assert sparkline([], [], {}, at(0)) is None
