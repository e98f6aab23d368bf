"""When polls happen (alertd.timing): the first one soon after start, then spread over the
interval on a 500 ms grid, never drifting. A seeded random source makes it exact."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from typing import Any

import pytest
from support.core import T0

from alertd.config.model import ProviderConfig
from alertd.timing import GRID, SpreadInterval, first_run_offset, on_grid, trigger_for


def provider(**changes: Any) -> ProviderConfig:
    return ProviderConfig(**({"type": "youcom", "api_key": "k", "interval": "60s"} | changes))


@pytest.mark.parametrize(
    ("jitter", "most"),
    [
        ("10%", timedelta(seconds=6)),
        ("30s", timedelta(seconds=30)),
        ("0", timedelta(0)),
        ("5m", timedelta(seconds=60)),  # never more than one interval
    ],
)
def test_the_first_poll_comes_within_the_jitter(jitter: str, most: timedelta) -> None:
    rng = random.Random(7)
    offsets = [first_run_offset(provider(jitter=jitter), rng) for _ in range(500)]
    assert all(timedelta(0) <= offset <= most for offset in offsets)
    if most:
        assert max(offsets) > most * 0.9  # the whole spread is used


def test_polls_follow_an_anchor_on_the_grid_at_a_fixed_interval() -> None:
    cfg = provider(jitter="10%")
    trigger = trigger_for(cfg, T0, random.Random(3))
    assert T0 <= trigger.first <= T0 + timedelta(seconds=6.5)
    gap = trigger.anchor - trigger.first
    assert timedelta(seconds=6) - GRID <= gap <= timedelta(seconds=60) + GRID
    fires = [trigger.get_next_fire_time(None, T0)]
    for _ in range(5):
        previous = fires[-1]
        assert previous is not None
        fires.append(trigger.get_next_fire_time(previous, previous))
    assert fires[:2] == [trigger.first, trigger.anchor]
    gaps = {b - a for a, b in itertools.pairwise(fires[1:]) if a is not None and b is not None}
    assert gaps == {cfg.interval}
    for moment in fires:
        assert moment is not None
        assert moment.timestamp() % GRID.total_seconds() == 0


def test_on_grid_rounds_up_to_the_next_step() -> None:
    assert on_grid(T0) == T0
    assert on_grid(T0 + timedelta(milliseconds=1)) == T0 + GRID
    assert on_grid(T0 + timedelta(milliseconds=500)) == T0 + GRID


def test_providers_on_one_interval_are_spread_over_it() -> None:
    rng = random.Random(11)
    anchors = [trigger_for(provider(), T0, rng).anchor for _ in range(200)]
    seconds = sorted((a - T0).total_seconds() for a in anchors)
    # across the interval, not bunched
    assert seconds[0] < 15
    assert seconds[-1] > 50
    assert len(set(seconds)) > 50


def test_the_trigger_says_what_it_does() -> None:
    trigger = SpreadInterval(T0, T0 + timedelta(seconds=30), timedelta(minutes=5))
    assert str(trigger) == f"every 0:05:00 from {(T0 + timedelta(seconds=30)).isoformat()}"
