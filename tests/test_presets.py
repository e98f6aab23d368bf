"""The presets (SPEC §9): each parses its provider's documented example into the reading a user
would see, and sends its key where that provider expects it, to a real loopback server.

Each preset is configured as a user would: `type` and `api_key` (Basic-auth presets take
`api_key: USER:PASSWORD`), nothing else but the stub's base_url where a request is made.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from support.http_stub import HttpStub, Reply

from alertd.config.model import ProviderConfig
from alertd.errors import AuthError, ProviderError, ResponseError
from alertd.http import HttpClient
from alertd.providers import PRESETS, Provider, build
from alertd.providers.base import decode_json

FIXTURES = Path(__file__).parent / "fixtures"
CHECKED_AT = datetime(2026, 3, 29, 17, 50, tzinfo=UTC)
KEY = "SENTINEL-KEY-preset-4b1f"
USER = "ACsentinel0user0d2e"
PASSWORD = "SENTINEL-PW-preset-8c3a"
BASIC = {"twilio", "plivo", "vonage"}


def preset(name: str, **settings: Any) -> Provider:
    """An account of preset `name` configured as a user would: type and key, and overrides."""
    key = f"{USER}:{PASSWORD}" if name in BASIC else KEY
    return build(name, ProviderConfig(type=name, api_key=SecretStr(key), **settings))


def documented(name: str, fixture: str = "balance") -> Any:
    return decode_json((FIXTURES / name / f"{fixture}.json").read_bytes())


@dataclass(frozen=True)
class Expected:
    """The reading of a preset's documented example: amount, unit, capacity, reset."""

    amount: str
    unit: str
    capacity: str | None = None
    resets_at: datetime | None = None


EXPECTED = {
    "anticaptcha": Expected("12.3456", "USD"),
    "apify": Expected("257", "USD", "300", datetime(2022, 11, 1, 23, 59, 59, 999000, UTC)),
    "brightdata": Expected("456", "USD"),
    "capsolver": Expected("1234567", "USD"),
    "deepl": Expected(
        "999994052777", "characters", "1000000000000", datetime(2025, 6, 13, 9, 18, 42, tzinfo=UTC)
    ),
    "deepl-free": Expected("1069882", "characters", "1250000"),
    "deepseek": Expected("110.00", "CNY"),
    "elevenlabs": Expected("9000", "characters", "10000", datetime.fromtimestamp(1738356858, UTC)),
    "openrouter": Expected("74.75", "USD", "100.5"),
    # limit_reset "monthly": midnight UTC starting the next month after CHECKED_AT
    "openrouter-key": Expected("74.5", "USD", "100", datetime(2026, 4, 1, tzinfo=UTC)),
    "plivo": Expected("1.80900", "USD"),
    "serpapi": Expected("5958", "searches", "30000"),
    "telnyx": Expected("400.00", "USD"),
    "twilio": Expected("0.05", "USD"),
    "vonage": Expected("10.28", "EUR"),
}


def test_every_preset_is_expected_here() -> None:
    assert set(EXPECTED) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_fixture_folder_names_the_documentation(name: str) -> None:
    source = (FIXTURES / name / "SOURCE").read_text(encoding="utf-8")
    assert f"Docs: {PRESETS[name].docs}" in source
    assert sorted((FIXTURES / name).glob("balance*.json"))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_documented_example_parses(name: str) -> None:
    expected = EXPECTED[name]
    reading = preset(name).parse(documented(name), CHECKED_AT)
    assert type(reading.amount) is Decimal
    assert reading.amount == Decimal(expected.amount)
    assert str(reading.amount) == expected.amount  # exact, digits as sent
    assert reading.unit == expected.unit
    assert reading.capacity == (None if expected.capacity is None else Decimal(expected.capacity))
    assert reading.resets_at == expected.resets_at
    assert reading.checked_at == CHECKED_AT


def test_capsolver_second_documented_example() -> None:
    reading = preset("capsolver").parse(documented("capsolver", "balance_no_packages"), CHECKED_AT)
    assert reading.amount == Decimal(1071810)


# -- where the request goes and where the key travels -------------------------------------------


@dataclass(frozen=True)
class Request:
    url: str  # the documented endpoint
    method: str = "GET"
    header: tuple[str, str] | None = None  # lowercase name, exact value
    query: str | None = None  # parameter that carries the key
    body: str | None = None  # JSON body field that carries the key


BEARER = ("authorization", f"Bearer {KEY}")
REQUESTS = {
    "anticaptcha": Request("https://api.anti-captcha.com/getBalance", "POST", body="clientKey"),
    "apify": Request("https://api.apify.com/v2/users/me/limits", header=BEARER),
    "brightdata": Request("https://api.brightdata.com/customer/balance", header=BEARER),
    "capsolver": Request("https://api.capsolver.com/getBalance", "POST", body="clientKey"),
    "deepl": Request(
        "https://api.deepl.com/v2/usage", header=("authorization", f"DeepL-Auth-Key {KEY}")
    ),
    "deepl-free": Request(
        "https://api-free.deepl.com/v2/usage", header=("authorization", f"DeepL-Auth-Key {KEY}")
    ),
    "deepseek": Request("https://api.deepseek.com/user/balance", header=BEARER),
    "elevenlabs": Request(
        "https://api.elevenlabs.io/v1/user/subscription", header=("xi-api-key", KEY)
    ),
    "openrouter": Request("https://openrouter.ai/api/v1/credits", header=BEARER),
    "openrouter-key": Request("https://openrouter.ai/api/v1/key", header=BEARER),
    "plivo": Request(f"https://api.plivo.com/v1/Account/{USER}/"),
    "serpapi": Request("https://serpapi.com/account.json", query="api_key"),
    "telnyx": Request("https://api.telnyx.com/v2/balance", header=BEARER),
    "twilio": Request(f"https://api.twilio.com/2010-04-01/Accounts/{USER}/Balance.json"),
    "vonage": Request("https://rest.nexmo.com/account/get-balance"),
}


def test_every_preset_has_its_request_here() -> None:
    assert set(REQUESTS) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_documented_endpoint(name: str) -> None:
    assert preset(name).url == REQUESTS[name].url


def _secrets_seen(seen: Any) -> list[str]:
    """Every place of the recorded request where a credential shows, in plain text."""
    places = [f"header {h}" for h, v in seen.headers.items() if KEY in v or PASSWORD in v]
    places += ["query"] * (KEY in seen.path or PASSWORD in seen.path)
    places += ["body"] * (KEY.encode() in seen.body or PASSWORD.encode() in seen.body)
    return places


@pytest.mark.parametrize("name", sorted(PRESETS))
async def test_key_lands_where_the_service_expects_it(
    name: str, stub_server: HttpStub, http_client: HttpClient
) -> None:
    expected = REQUESTS[name]
    route = urlsplit(expected.url).path.replace(
        urlsplit(PRESETS[name].settings["base_url"]).path, "", 1
    )
    stub_server.answer(route, Reply(body=(FIXTURES / name / "balance.json").read_bytes()))

    reading = await preset(name, base_url=stub_server.url).fetch(http_client, CHECKED_AT)

    assert reading.amount == Decimal(EXPECTED[name].amount)
    [seen] = stub_server.requests
    assert seen.method == expected.method
    assert seen.route == route
    if expected.header:
        header, value = expected.header
        assert seen.headers[header] == value
        assert _secrets_seen(seen) == [f"header {header}"]
    elif expected.query:
        assert parse_qs(urlsplit(seen.path).query) == {expected.query: [KEY]}
        assert _secrets_seen(seen) == ["query"]
    elif expected.body:
        assert seen.headers["content-type"] == "application/json"
        assert seen.json() == {expected.body: KEY}
        assert _secrets_seen(seen) == ["body"]
    else:  # HTTP Basic: the user (also the path's account where there is one), the password
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        assert seen.headers["authorization"] == f"Basic {token}"
        assert _secrets_seen(seen) == []  # the password only travels base64-encoded
        assert seen.body == b""


# -- errors the providers report ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "kind", "reason"),
    [
        (
            "anticaptcha",
            (FIXTURES / "anticaptcha" / "error_key.json").read_text(),
            AuthError,
            "credentials rejected: ERROR_KEY_DOES_NOT_EXIST: Account authorization key not found"
            " in the system",
        ),
        (
            "anticaptcha",
            '{"errorId": 10, "errorCode": "ERROR_ZERO_BALANCE"}',
            ResponseError,
            "provider reported failure: ERROR_ZERO_BALANCE",
        ),
        (
            "capsolver",
            f'{{"errorId": 1, "errorCode": "ERROR_X", "errorDescription": "bad key {KEY}"}}',
            ResponseError,
            "provider reported failure: ERROR_X: bad key ***",  # an echoed key is masked
        ),
        (
            "capsolver",
            '{"errorId": 1}',
            ResponseError,
            "provider reported failure: errorId is not 0",
        ),
        (
            "twilio",
            f'{{"account_sid": "{USER}", "balance": null, "currency": null}}',
            ResponseError,
            "provider reported failure: no balance in the answer (a subaccount has none: watch"
            " its parent account)",
        ),
        (
            "openrouter-key",
            '{"data": {"limit": null, "limit_remaining": null, "limit_reset": null}}',
            ResponseError,
            "provider reported failure: this key has no spending limit: nothing to watch (type"
            " openrouter watches the account credits)",
        ),
        (
            "deepl",
            '{"character_count": 5}',
            ResponseError,
            "unexpected response: capacity expression matched nothing",
        ),
    ],
    ids=[
        "key-refused",
        "zero-balance",
        "echoed-key",
        "bare-error-id",
        "subaccount",
        "no-limit",
        "partial",
    ],
)
def test_reported_errors_read_as_what_they_are(
    name: str, body: str, kind: type[ProviderError], reason: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        preset(name).parse(decode_json(body.encode()), CHECKED_AT)
    assert type(caught.value) is kind
    assert caught.value.reason == reason


@pytest.mark.parametrize("name", ["anticaptcha", "capsolver"])
def test_error_id_zero_is_no_error(name: str) -> None:
    reading = preset(name).parse(decode_json(b'{"errorId": 0, "balance": 0}'), CHECKED_AT)
    assert reading.amount == 0


def test_an_odd_reset_costs_only_the_reset() -> None:
    body = {**documented("elevenlabs"), "next_character_count_reset_unix": "soon"}
    reading = preset("elevenlabs").parse(body, CHECKED_AT)
    assert reading.resets_at is None
    assert reading.amount == 9000


# -- every field overridable ---------------------------------------------------------------


def test_a_set_expression_replaces_the_presets_used_expression() -> None:
    """DeepL Pro also reports the key's own counters: a user may watch those instead."""
    provider = preset(
        "deepl",
        expression="api_key_character_limit",
        capacity_expression="api_key_character_limit",
    )
    reading = provider.parse(documented("deepl"), CHECKED_AT)
    assert reading.amount == Decimal(1000000000000)
    assert provider.config.used_expression is None
    assert reading.unit == "characters"  # the rest of the preset stays


def test_a_set_unit_replaces_the_presets_unit_expression() -> None:
    reading = preset("telnyx", unit="credits").parse(documented("telnyx"), CHECKED_AT)
    assert reading.unit == "credits"


def test_an_empty_expression_switches_a_presets_check_off() -> None:
    body = decode_json(b'{"balance": null, "currency": null}')
    with pytest.raises(ResponseError, match="balance expression matched nothing"):
        preset("twilio", error_expression="").parse(body, CHECKED_AT)


def test_base_url_path_and_key_placement_are_overridable() -> None:
    """Twilio with API-key credentials: the Basic user is a key SID, not the AccountSid."""
    provider = preset(
        "twilio",
        base_url="https://proxy.example.com/twilio",
        path="/2010-04-01/Accounts/AC0123/Balance.json",
    )
    assert (
        provider.url == "https://proxy.example.com/twilio/2010-04-01/Accounts/AC0123/Balance.json"
    )
    moved = preset("serpapi", auth={"header": "X-Api-Key"})
    assert moved.request_url() == "https://serpapi.com/account.json"
    assert moved.request_headers()["X-Api-Key"] == KEY


def test_a_preset_leaves_its_own_keys_alone() -> None:
    """Two accounts of one preset, one with overrides: the other still has the preset's."""
    changed = preset("deepl", base_url="https://deepl.example.com", unit="chars")
    plain = preset("deepl")
    assert changed.url == "https://deepl.example.com/v2/usage"
    assert plain.url == "https://api.deepl.com/v2/usage"
    assert plain.config.unit == "characters"
