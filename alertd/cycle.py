"""PURE: one poll's effect on a provider's checks, and who must be told what.

`advance()` folds a poll result into the per-check states; `plan()` asks `decide()` for
every (check, destination) pair. The engine does the IO around these two calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from alertd.config.model import AlertdConfig, ProviderConfig
from alertd.core.evaluate import FETCH, Finding, evaluate
from alertd.core.model import Reading, Severity
from alertd.core.state import (
    AlertPolicy,
    CheckState,
    Decision,
    Reason,
    decide,
    observe,
    observe_failure,
    observe_success,
)
from alertd.errors import ProviderError


@dataclass(frozen=True, slots=True)
class Destination:
    """One Apprise URL of one notifier. `key` is stable across reloads and reorderings."""

    key: str
    notifier: str
    url_index: int
    floor: Severity


@dataclass(frozen=True, slots=True)
class Planned:
    check: str
    destination: Destination
    decision: Decision


def policy_of(cfg: ProviderConfig) -> AlertPolicy:
    return AlertPolicy(cfg.repeat_interval, cfg.notify_resolved, cfg.failure_threshold)


def destinations(config: AlertdConfig, provider: str) -> list[Destination]:
    """The provider's `notify` list (every notifier when it has none), one entry per URL."""
    names = config.providers[provider].notify
    if names is None:
        names = list(config.notifiers)
    routes = []
    for name in names:
        notifier = config.notifiers[name]
        for index, url in enumerate(notifier.urls):
            digest = hashlib.sha256(url.get_secret_value().encode()).hexdigest()[:12]
            routes.append(Destination(f"{name}:{digest}", name, index, notifier.severity_floor))
    return routes


def advance(
    previous: Mapping[str, CheckState],
    reading: Reading | None,
    error: ProviderError | None,
    cfg: ProviderConfig,
    now: datetime,
) -> tuple[dict[str, CheckState], dict[str, Finding]]:
    """New check states after one poll, and the findings of a successful one.

    A failed poll touches only `fetch`: the balance state stays as it was, neither
    resolved nor reminded by silence.
    """
    checks = dict(previous)
    if reading is None:
        assert error is not None
        checks[FETCH] = observe_failure(previous.get(FETCH), error, policy_of(cfg), now)
        return checks, {}
    severities = {check: state.severity for check, state in previous.items()}
    findings = evaluate(reading, cfg, severities)
    for check in previous:
        if check not in findings and check != FETCH:
            findings[check] = Finding(check, Severity.OK, "no longer reported by the provider")
    for check, finding in findings.items():
        checks[check] = observe(previous.get(check), finding, now)
    checks[FETCH] = observe_success(previous.get(FETCH), now)
    return checks, findings


def plan(
    checks: Mapping[str, CheckState],
    routes: Sequence[Destination],
    policy: AlertPolicy,
    now: datetime,
    polled_ok: bool,
) -> list[Planned]:
    """Every notification due now. After a failed poll only `fetch` is considered."""
    due = []
    for check, state in checks.items():
        if not polled_ok and check != FETCH:
            continue
        for route in routes:
            decision = decide(state.severity, state.sent.get(route.key), route.floor, policy, now)
            if decision.reason is not Reason.NONE:
                due.append(Planned(check, route, decision))
    return due
