"""The forecast on /metrics (SPEC §6): burn rate, runway (+Inf when not burning, absent
without enough history) and top-ups, as Prometheus parses them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from alertd.core.forecast import Forecast, Outlook
from alertd.core.series import Event, EventKind
from alertd.observability.metrics import Metrics

NOW = datetime(2026, 11, 22, tzinfo=UTC)
DAY = timedelta(days=1)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(("alertd_burn", "alertd_runway", "alertd_topups_total"))
    }


def forecast(outlook: Outlook, rate: str | None, runway: timedelta | None) -> Forecast:
    return Forecast(
        outlook, "USD", 3 * DAY, DAY, rate=None if rate is None else Decimal(rate), runway=runway
    )


def test_burn_rate_runway_and_topups_as_prometheus_reads_them() -> None:
    metrics = Metrics()
    topup = Event(NOW, EventKind.TOPUP, Decimal(50), Decimal(80))
    metrics.on_forecast("wallet", forecast(Outlook.RUNS_OUT, "4.10", 3 * DAY), [topup])
    assert samples(metrics) == {
        ("alertd_burn_rate", (("provider", "wallet"), ("unit", "USD"))): 4.1,
        ("alertd_runway_seconds", (("provider", "wallet"),)): 3 * 86400.0,
        ("alertd_topups_total", (("kind", "topup"), ("provider", "wallet"))): 1.0,
    }


def test_not_burning_is_infinite_and_not_enough_history_is_absent() -> None:
    metrics = Metrics()
    metrics.on_forecast("idle", forecast(Outlook.NOT_BURNING, "0", None))
    assert math.isinf(samples(metrics)[("alertd_runway_seconds", (("provider", "idle"),))])
    metrics.on_forecast("idle", forecast(Outlook.NOT_ENOUGH_HISTORY, None, None))
    assert samples(metrics) == {}


def test_a_removed_provider_leaves_no_forecast_series() -> None:
    metrics = Metrics()
    metrics.on_forecast("gone", forecast(Outlook.EMPTY, "2", timedelta(0)))
    assert samples(metrics)[("alertd_runway_seconds", (("provider", "gone"),))] == 0
    metrics.forget("gone")
    assert samples(metrics) == {}
