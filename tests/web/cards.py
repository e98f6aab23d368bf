"""Watched providers made in a test, through the real `step` (tests/support/core.py), for the
status view, the API JSON and the page templates: no daemon, no clock, plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from support.core import T0, Outcome, at, poll, rules_for

from alertd.config.model import ProviderConfig
from alertd.core.rules import Rules
from alertd.core.step import ProviderState


@dataclass(frozen=True)
class Card:
    """What the page reads of a watched provider (`alertd.engine.Watch` has more)."""

    name: str
    rules: Rules
    state: ProviderState


def config(**settings: Any) -> ProviderConfig:
    body = {"type": "browser7", "api_key": "k", "warning": 20, "critical": 5, **settings}
    return ProviderConfig.model_validate(body)


def watched(
    name: str,
    outcomes: Sequence[tuple[float, Outcome]],
    **settings: Any,
) -> Card:
    """A provider after polls (hours after T0, outcome) folded through the real `step`."""
    cfg = config(**settings)
    state = ProviderState()
    for hours, outcome in outcomes:
        state = poll(state, outcome, cfg, at(hours), name=name).state
    return Card(name, rules_for(cfg), state)


def draining(name: str, start: int, per_hour: int, hours: int, **settings: Any) -> Card:
    """A balance in USD falling by `per_hour` each hour for `hours` hours."""
    return watched(name, [(h, str(start - per_hour * h)) for h in range(hours + 1)], **settings)


def after(card: Card, hours: float) -> datetime:
    """T0 plus `hours`: when the page is looked at."""
    return at(hours)


__all__ = ["T0", "Card", "Decimal", "after", "config", "draining", "watched"]
