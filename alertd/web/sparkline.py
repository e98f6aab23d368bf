"""PURE: a balance's history as the geometry of a small inline SVG chart: a polyline of the
readings, a marker per top-up or reset, a dashed line per threshold within the drawn range.

The x axis runs from the first reading shown to `now`, so a young history still fills the
chart; the y axis from the lowest to the highest reading. Readings are thinned to at most
`max_points` (the last of each pixel column), so a year of history stays a small page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from alertd.core.model import Severity
from alertd.core.series import Event, Sample

WIDTH = 240
HEIGHT = 48
PAD = 3  # pixels kept free above and below the line
MAX_POINTS = WIDTH // 2


@dataclass(frozen=True, slots=True)
class Marker:
    """A top-up or reset at (x, y); `event` says what and how much."""

    x: float
    y: float
    event: Event


@dataclass(frozen=True, slots=True)
class Level:
    """A threshold's horizontal line at `y`."""

    y: float
    severity: Severity
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Sparkline:
    points: tuple[tuple[float, float], ...]
    markers: tuple[Marker, ...] = ()
    levels: tuple[Level, ...] = ()
    low: Decimal = Decimal(0)
    high: Decimal = Decimal(0)
    start: datetime | None = None
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def polyline(self) -> str:
        """The `points` attribute of the SVG polyline."""
        return " ".join(f"{x:g},{y:g}" for x, y in self.points)


def sparkline(
    samples: Sequence[Sample],
    events: Sequence[Event],
    levels: Mapping[Severity, Decimal],
    now: datetime,
    max_points: int = MAX_POINTS,
) -> Sparkline | None:
    """None without readings. `samples` oldest first, in one unit."""
    if not samples:
        return None
    start = samples[0].at
    seconds = max((max(now, samples[-1].at) - start).total_seconds(), 1.0)
    low = min(s.amount for s in samples)
    high = max(s.amount for s in samples)

    def x(at: datetime) -> float:
        return round(min(max((at - start).total_seconds() / seconds, 0.0), 1.0) * WIDTH, 1)

    def y(amount: Decimal) -> float:
        if high == low:
            return HEIGHT / 2
        share = float((amount - low) / (high - low))
        return round(PAD + (1 - share) * (HEIGHT - 2 * PAD), 1)

    kept = _thin(samples, max_points)
    return Sparkline(
        points=tuple((x(s.at), y(s.amount)) for s in kept),
        markers=tuple(Marker(x(e.at), y(e.balance), e) for e in events if e.at >= start),
        levels=tuple(
            Level(y(amount), severity, amount)
            for severity, amount in sorted(levels.items(), reverse=True)
            if low <= amount <= high
        ),
        low=low,
        high=high,
        start=start,
    )


def _thin(samples: Sequence[Sample], max_points: int) -> list[Sample]:
    """The last sample of each of `max_points` columns, and always the first one."""
    if len(samples) <= max_points:
        return list(samples)
    first, last = samples[0].at, samples[-1].at
    seconds = max((last - first).total_seconds(), 1.0)
    columns: dict[int, Sample] = {}
    for sample in samples:
        column = int((sample.at - first).total_seconds() / seconds * (max_points - 2))
        columns[column] = sample
    return [samples[0], *(columns[c] for c in sorted(columns) if columns[c] is not samples[0])]
