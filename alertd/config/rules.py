"""The validated config seen as the core's plain `Rules`, one per provider."""

from __future__ import annotations

import hashlib

from alertd.config.model import AlertdConfig, ProviderConfig
from alertd.core.rules import AlertPolicy, Destination, Forecasting, Levels, Rules


def levels_of(cfg: ProviderConfig) -> Levels:
    return Levels(cfg.warning, cfg.critical, cfg.recovery_margin, cfg.storage_warning)


def alert_policy_of(cfg: ProviderConfig) -> AlertPolicy:
    return AlertPolicy(cfg.repeat_interval, cfg.notify_resolved, cfg.failure_threshold)


def forecasting_of(cfg: ProviderConfig) -> Forecasting:
    return Forecasting(cfg.burn_window, cfg.runway_warning, cfg.runway_critical, cfg.spend_spike)


def destinations(config: AlertdConfig, provider: str) -> tuple[Destination, ...]:
    """The provider's `notify` list (every notifier when it has none), one entry per URL.
    A destination's key hashes its URL, so it survives reloads and reorderings."""
    names = config.providers[provider].notify
    if names is None:
        names = list(config.notifiers)
    routes = []
    for name in names:
        notifier = config.notifiers[name]
        for index, url in enumerate(notifier.urls):
            digest = hashlib.sha256(url.get_secret_value().encode()).hexdigest()[:12]
            routes.append(Destination(f"{name}:{digest}", name, index, notifier.severity_floor))
    return tuple(routes)


def rules_of(config: AlertdConfig, provider: str) -> Rules:
    """A rate-limit deferral is capped at the time `failure_threshold` polls would take: a
    provider asking for a day's pause is reported as "cannot check" like any other outage."""
    cfg = config.providers[provider]
    return Rules(
        provider_type=cfg.type,
        levels=levels_of(cfg),
        alerting=alert_policy_of(cfg),
        routes=destinations(config, provider),
        max_deferral=cfg.interval * cfg.failure_threshold,
        forecasting=forecasting_of(cfg),
    )
