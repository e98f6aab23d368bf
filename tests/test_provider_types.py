"""What every provider type in the registry must do, picked up by itself for a new type:
a fixture folder of documented bodies that parse, and a simulated body (served by the
simulator of the demo, tests and bench) that the type's own adapter reads back exactly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from support.core import T0

from alertd.config.model import ProviderConfig
from alertd.demo.simulator import TYPES, Account, Simulator
from alertd.http import HttpClient
from alertd.providers import REGISTRY, build
from alertd.providers.base import Provider, decode_json

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "SENTINEL-KEY-types"


def adapter(provider_type: str, base_url: str = "http://127.0.0.1:9") -> Provider:
    return build(
        provider_type, ProviderConfig(type=provider_type, api_key=SecretStr(KEY), base_url=base_url)
    )


@pytest.mark.parametrize("provider_type", sorted(REGISTRY))
def test_every_type_has_documented_bodies(provider_type: str) -> None:
    bodies = sorted((FIXTURES / provider_type).glob("*.json"))
    assert bodies, f"tests/fixtures/{provider_type}/ has no documented response body"


@pytest.mark.parametrize("provider_type", TYPES)
def test_documented_balances_parse(provider_type: str) -> None:
    """Every `balance*.json` in the type's fixture folder is a successful documented answer."""
    bodies = sorted((FIXTURES / provider_type).glob("balance*.json"))
    assert bodies
    for path in bodies:
        reading = adapter(provider_type).parse(decode_json(path.read_bytes()), T0)
        assert reading.unit, path
        assert reading.checked_at == T0, path


def test_every_type_but_the_generic_one_is_simulated() -> None:
    assert set(TYPES) == {name for name, cls in REGISTRY.items() if cls.simulated}
    assert "http_json" not in TYPES


@pytest.mark.parametrize("provider_type", TYPES)
@pytest.mark.parametrize("balance", [Decimal(0), Decimal(12), Decimal(8000), Decimal(-3)])
def test_the_simulated_body_reads_back_as_its_balance(provider_type: str, balance: Decimal) -> None:
    account = Account("acct", provider_type, KEY, balance)
    reading = REGISTRY[provider_type]("acct", adapter(provider_type).config).parse(
        decode_json(_json(account)), T0
    )
    assert reading.amount == balance


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator([Account(kind, kind, KEY, Decimal("42.00")) for kind in TYPES])
    await sim.start(0)
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.mark.parametrize("provider_type", TYPES)
async def test_the_simulator_serves_each_type_as_its_adapter_expects(
    simulator: Simulator, provider_type: str
) -> None:
    async with HttpClient() as client:
        reading = await adapter(provider_type, simulator.base_url(provider_type)).fetch(client, T0)
        assert reading.amount == Decimal("42.00")
        wrong_key = build(
            provider_type,
            ProviderConfig(
                type=provider_type,
                api_key=SecretStr("wrong"),
                base_url=simulator.base_url(provider_type),
            ),
        )
        poll = await wrong_key.poll(client, lambda: T0)
        assert poll.failure is not None
        assert poll.failure.auth


def _json(account: Account) -> bytes:
    return json.dumps(account.payload()).encode()
