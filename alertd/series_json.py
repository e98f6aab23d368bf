"""Readings, hourly summaries and events as JSON objects: one shape for `alertd history
--json` and the HTTP history API. Money stays exact (decimal text); how a time is written
is the caller's (`when`): the CLI keeps `+00:00`, the API writes RFC 3339 with `Z`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from alertd.core.series import Event, Sample, Summary

When = Callable[[datetime], Any]


def sample_json(sample: Sample, when: When) -> dict[str, Any]:
    capacity = None if sample.capacity is None else str(sample.capacity)
    return {
        "at": when(sample.at),
        "amount": str(sample.amount),
        "unit": sample.unit,
        "capacity": capacity,
    }


def summary_json(summary: Summary, when: When) -> dict[str, Any]:
    return {
        "hour": when(summary.hour),
        "unit": summary.unit,
        "first": str(summary.first),
        "last": str(summary.last),
        "low": str(summary.low),
        "high": str(summary.high),
        "spent": str(summary.spent),
        "readings": summary.readings,
    }


def event_json(event: Event, when: When) -> dict[str, Any]:
    return {
        "at": when(event.at),
        "kind": event.kind.value,
        "amount": str(event.amount),
        "balance": str(event.balance),
    }
