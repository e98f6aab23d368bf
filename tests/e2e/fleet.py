"""The end-to-end test fleet: one account per provider type, sentinel secrets, thresholds.

Every provider type has one simulated account, named after its type, with a sentinel API
key; the SMTP password is a sentinel too, so any test can check that no secret leaked.
The simulator, the daemon and the receivers they drive are in tests/support.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import SecretStr
from support.daemon import DaemonProcess, SimulatorThread

from alertd.config.model import ProviderConfig
from alertd.demo.simulator import TYPES, Account
from alertd.providers import REGISTRY
from alertd.providers.base import decode_json

SMTP_USER = "alertd"
SMTP_PASSWORD = "SENTINEL-PW-5e0c2a9b"
SENTINEL = "SENTINEL-"


def _unit(kind: str) -> str:
    """The unit a type's adapter reports, read from its simulated body."""
    body = json.dumps(Account("x", kind, "k", Decimal(1)).payload()).encode()
    config = ProviderConfig(type=kind, api_key=SecretStr("k"), base_url="http://127.0.0.1:9")
    return REGISTRY[kind]("x", config).parse(decode_json(body), datetime.now(UTC)).unit


USD_TYPES = tuple(kind for kind in TYPES if _unit(kind) == "USD")
CREDIT_TYPES = tuple(kind for kind in TYPES if _unit(kind) != "USD")

# (warning, critical) in each provider's unit.
THRESHOLDS: dict[str, tuple[Decimal, Decimal]] = {
    **{kind: (Decimal(10), Decimal(2)) for kind in USD_TYPES},
    **{kind: (Decimal(2000), Decimal(500)) for kind in CREDIT_TYPES},
}
HEALTHY = {**{k: Decimal(100) for k in USD_TYPES}, **{k: Decimal(8000) for k in CREDIT_TYPES}}


def api_key(kind: str) -> str:
    return f"SENTINEL-KEY-{kind}-9f31d7"


def fleet_accounts() -> list[Account]:
    """One healthy account per provider type, named after its type, with a sentinel key."""
    return [Account(kind, kind, api_key(kind), HEALTHY[kind]) for kind in TYPES]


RunDaemon = Callable[..., DaemonProcess]  # the run_daemon fixture


def watch_every_account(
    sim: SimulatorThread, per_provider: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Config entries for every simulated account, with the thresholds of its type."""
    entries = {}
    for account in sim.accounts.values():
        warning, critical = THRESHOLDS[account.type]
        settings = {"warning": str(warning), "critical": str(critical)}
        settings.update((per_provider or {}).get(account.name, {}))
        entries[account.name] = sim.provider(account.name, **settings)
    return entries
