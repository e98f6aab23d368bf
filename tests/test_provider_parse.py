"""Provider adapters, pure part: documented bodies in, Readings (or the reason why not) out.

Bodies go through `decode_json`, as in production, so every number is a Decimal. No IO here
except one in-memory transport test of the status mapping at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from alertd.config.model import ProviderConfig
from alertd.core.model import Reading, Signal
from alertd.demo.simulator import TYPES
from alertd.errors import (
    AuthError,
    ProviderError,
    RateLimitedError,
    ResponseError,
    UnavailableError,
)
from alertd.http import HttpClient
from alertd.providers import REGISTRY, build
from alertd.providers.base import Provider, check_status, decode_json, parse_retry_after

CHECKED_AT = datetime(2026, 3, 29, 17, 50, tzinfo=UTC)
KEY = "SENTINEL-KEY-7f3a"
FixtureBytes = Callable[[str, str], bytes]


def make(provider_type: str, **settings: Any) -> Provider:
    config: dict[str, Any] = {"type": provider_type, "base_url": "http://127.0.0.1:9"}
    if provider_type != "http_json":
        config["api_key"] = KEY
    return build(provider_type, ProviderConfig(**(config | settings)))


def parse(provider_type: str, body: Any, **settings: Any) -> Reading:
    """Parses a body given as JSON text (or bytes), decoded as production decodes it."""
    raw = body.encode() if isinstance(body, str) else body
    return make(provider_type, **settings).parse(decode_json(raw), CHECKED_AT)


def refused(provider_type: str, body: str, **settings: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        parse(provider_type, body, **settings)
    assert KEY not in str(caught.value)
    return caught.value


# -- registry and endpoints ----------------------------------------------------------------


def test_every_registered_type_is_named_by_its_class() -> None:
    for provider_type, cls in REGISTRY.items():
        assert cls.type_name == provider_type


@pytest.mark.parametrize(
    ("provider_type", "url"),
    [
        ("browser7", "https://api.browser7.com/v1/account/balance"),
        ("youcom", "https://api.you.com/v1/billing/account_balance"),
        ("lobstr", "https://api.lobstr.io/v1/user/balance"),
        ("srtgen", "https://api.srtgen.com/api/v1/balance"),
    ],
)
def test_documented_endpoint_without_base_url(provider_type: str, url: str) -> None:
    assert make(provider_type, base_url=None).url == url


@pytest.mark.parametrize(
    ("provider_type", "path"),
    [
        ("browser7", "/v1/account/balance"),
        ("youcom", "/v1/billing/account_balance"),
        ("lobstr", "/v1/user/balance"),
        ("srtgen", "/api/v1/balance"),
        ("decaptcha", "/api/balance"),
    ],
)
def test_documented_path_is_appended_to_base_url(provider_type: str, path: str) -> None:
    provider = make(provider_type, base_url="https://proxy.internal/billing/")
    assert provider.url == "https://proxy.internal/billing" + path


@pytest.mark.parametrize(
    ("provider_type", "capacity"),
    [
        ("browser7", False),
        ("youcom", False),
        ("lobstr", True),
        ("srtgen", True),
        ("decaptcha", False),
    ],
)
def test_which_types_report_a_capacity(provider_type: str, capacity: bool) -> None:
    assert make(provider_type).has_capacity() is capacity


# -- browser7 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "amount", "breakdown"),
    [
        (
            "balance_3250",
            Decimal("32.50"),
            {"paid": Decimal("25.50"), "free": Decimal("5.00"), "bonus": Decimal("2.00")},
        ),
        (
            "balance_1700",
            Decimal("17.00"),
            {"paid": Decimal("15.75"), "free": Decimal("0.00"), "bonus": Decimal("1.25")},
        ),
    ],
)
def test_browser7_documented_examples(
    fixture_bytes: FixtureBytes, fixture: str, amount: Decimal, breakdown: dict[str, Decimal]
) -> None:
    reading = parse("browser7", fixture_bytes("browser7", fixture))
    assert type(reading.amount) is Decimal
    assert reading.amount == amount
    assert reading.unit == "USD"
    assert dict(reading.breakdown) == breakdown
    assert reading.checked_at == CHECKED_AT
    assert reading.capacity is None
    assert reading.signals == ()
    # 1 cent = 1 render: the same balance shown as renders
    assert (reading.alt_unit, reading.alt_per_unit) == ("renders", Decimal(100))
    assert reading.alt_per_unit is not None
    assert reading.amount * reading.alt_per_unit == amount * 100


@pytest.mark.parametrize(
    ("body", "amount", "breakdown"),
    [
        ('{"totalBalanceCents": -300}', Decimal("-3.00"), {}),
        ('{"totalBalanceCents": 0, "breakdown": {}}', Decimal(0), {}),
        (
            '{"totalBalanceCents": 1, "breakdown": {"paid": {"cents": 1}}}',
            Decimal("0.01"),
            {"paid": Decimal("0.01")},
        ),
        ('{"totalBalanceCents": 1050.5}', Decimal("10.505"), {}),
    ],
    ids=["negative", "zero", "partial-breakdown", "fractional-cents"],
)
def test_browser7_other_readings(body: str, amount: Decimal, breakdown: dict[str, Decimal]) -> None:
    reading = parse("browser7", body)
    assert reading.amount == amount
    assert dict(reading.breakdown) == breakdown


# -- youcom ---------------------------------------------------------------------------------


def test_youcom_documented_example(fixture_bytes: FixtureBytes) -> None:
    reading = parse("youcom", fixture_bytes("youcom", "balance"))
    assert type(reading.amount) is Decimal
    assert reading.amount == Decimal("7189.245")  # cents, fractional: not rounded to 7189.24
    assert reading.unit == "USD"
    assert reading.checked_at == CHECKED_AT
    assert reading.capacity is None


@pytest.mark.parametrize(
    ("balance", "amount"),
    [
        ("-300", Decimal("-3.00")),
        ("0", Decimal(0)),
        ("0.5", Decimal("0.005")),
        ("99999999999999.5", Decimal("999999999999.995")),
    ],
)
def test_youcom_other_readings(balance: str, amount: Decimal) -> None:
    body = f'{{"data": {{"type": "account", "id": "x", "attributes": {{"balance": {balance}}}}}}}'
    assert parse("youcom", body).amount == amount


# -- lobstr ---------------------------------------------------------------------------------


def test_lobstr_documented_example(fixture_bytes: FixtureBytes) -> None:
    reading = parse("lobstr", fixture_bytes("lobstr", "balance"))
    assert type(reading.amount) is Decimal
    assert reading.amount == Decimal(8450)  # available 10000 - consumed 1550
    assert reading.capacity == Decimal(10000)
    assert reading.unit == "credits"
    assert dict(reading.breakdown) == {
        "available": Decimal(10000),
        "consumed": Decimal(1550),
        "bonus_credit": Decimal(0),
        "rollover_credit": Decimal(200),  # reported, not added to the balance
    }
    assert reading.signals == (Signal("unpaid_bill", "no unpaid bill", flagged=False),)
    assert dict(reading.info) == {
        "slots": "3/20",
        "reset_time": "2025-02-01T00:00:00Z",
        "interval": "monthly",
        "plan": "Professional",
    }
    assert reading.resets_at == datetime(2025, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize("odd", ["next month", 1e12, True, "x" * 100])
def test_lobstr_odd_reset_time_costs_only_the_reset(fixture_bytes: FixtureBytes, odd: Any) -> None:
    reading = parse("lobstr", _lobstr(fixture_bytes, reset_time=odd))
    assert reading.resets_at is None
    assert reading.amount == Decimal(8450)


def _lobstr(fixture_bytes: FixtureBytes, **changes: Any) -> bytes:
    body = json.loads(fixture_bytes("lobstr", "balance"))
    body.update(changes)
    return json.dumps(body).encode()


def test_lobstr_unpaid_bill_is_flagged(fixture_bytes: FixtureBytes) -> None:
    reading = parse("lobstr", _lobstr(fixture_bytes, has_unpaid_bill=True))
    assert reading.signals == (Signal("unpaid_bill", "unpaid bill outstanding", flagged=True),)
    assert reading.amount == Decimal(8450)


def test_lobstr_null_unpaid_bill_is_not_flagged(fixture_bytes: FixtureBytes) -> None:
    reading = parse("lobstr", _lobstr(fixture_bytes, has_unpaid_bill=None))
    (signal,) = reading.signals
    assert signal.check == "unpaid_bill"
    assert signal.flagged is False


def test_lobstr_overdrawn_is_a_negative_reading(fixture_bytes: FixtureBytes) -> None:
    reading = parse("lobstr", _lobstr(fixture_bytes, consumed=10300))
    assert reading.amount == Decimal(-300)
    assert reading.capacity == Decimal(10000)


def test_lobstr_minimal_body() -> None:
    """Only the two fields the balance needs: no unpaid bill assumed, no slots shown."""
    reading = parse("lobstr", '{"available": 500, "consumed": 120}')
    assert reading.amount == Decimal(380)
    assert reading.signals == (Signal("unpaid_bill", "no unpaid bill", flagged=False),)
    assert dict(reading.info) == {}
    assert dict(reading.breakdown) == {"available": Decimal(500), "consumed": Decimal(120)}


# -- srtgen ---------------------------------------------------------------------------------


def test_srtgen_documented_example(fixture_bytes: FixtureBytes) -> None:
    reading = parse("srtgen", fixture_bytes("srtgen", "balance"))
    assert type(reading.amount) is Decimal
    assert reading.amount == Decimal(1250)
    assert reading.capacity == Decimal(1250)  # plans total 1000 + extra 250
    assert reading.unit == "credits"
    assert dict(reading.breakdown) == {"extra": Decimal(250), "Starter Plan": Decimal(1000)}
    plan, storage = reading.signals
    assert plan == Signal("plan_status", "all plans active", flagged=False)
    assert storage == Signal(
        "storage",
        "storage 200 MB of 10 GB used (2%)",
        ratio=Decimal("0.01953125"),  # 209715200 / 10737418240
    )


def test_srtgen_past_due_plan_is_flagged(fixture_bytes: FixtureBytes) -> None:
    reading = parse("srtgen", fixture_bytes("srtgen", "balance_past_due"))
    assert reading.amount == Decimal(310)
    assert reading.capacity == Decimal(3060)  # 1000 + 2000 + 60
    assert dict(reading.breakdown) == {
        "extra": Decimal(60),
        "Starter Plan": Decimal(50),
        "Pro Plan": Decimal(200),
    }
    plan, storage = reading.signals
    assert plan == Signal("plan_status", "Pro Plan is past_due", flagged=True)
    assert storage.ratio == Decimal("0.9")
    assert storage.detail == "storage 9 GB of 10 GB used (90%)"
    assert storage.flagged is False  # the evaluator compares the ratio to storage_warning


@pytest.mark.parametrize(
    ("storage", "signals"),
    [
        (None, ["plan_status"]),
        ({"usage": 5, "limit": 0}, ["plan_status"]),
        ({"usage": 512, "limit": 1024}, ["plan_status", "storage"]),
    ],
    ids=["no-storage", "zero-limit", "unformatted"],
)
def test_srtgen_storage_signal(
    fixture_bytes: FixtureBytes, storage: dict[str, int] | None, signals: list[str]
) -> None:
    body = json.loads(fixture_bytes("srtgen", "balance"))
    del body["storage"]
    if storage is not None:
        body["storage"] = storage
    reading = parse("srtgen", json.dumps(body))
    assert [signal.check for signal in reading.signals] == signals
    if "storage" in signals:
        assert reading.signals[1].detail == "storage 512 of 1024 bytes used (50%)"
        assert reading.signals[1].ratio == Decimal("0.5")


def test_srtgen_plan_without_status_is_flagged() -> None:
    body = '{"credits": {"totalBalance": 5, "extraCredits": 0, "plans": [{"total": 10}]}}'
    reading = parse("srtgen", body)
    assert reading.signals == (Signal("plan_status", "plan 1 is unknown", flagged=True),)
    assert reading.capacity == Decimal(10)


def test_srtgen_negative_balance_is_a_reading() -> None:
    body = '{"credits": {"totalBalance": -40, "extraCredits": 0, "plans": []}}'
    reading = parse("srtgen", body)
    assert reading.amount == Decimal(-40)
    assert reading.capacity == Decimal(0)


# -- decaptcha ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "amount"),
    [("balance", Decimal("1250.75")), ("balance_separators", Decimal("1250.75"))],
)
def test_decaptcha_documented_example(
    fixture_bytes: FixtureBytes, fixture: str, amount: Decimal
) -> None:
    reading = parse("decaptcha", fixture_bytes("decaptcha", fixture))
    assert type(reading.amount) is Decimal
    assert reading.amount == amount
    assert reading.unit == "USD"
    assert reading.checked_at == CHECKED_AT


def _decaptcha(data: Any, **fields: Any) -> str:
    body = {"isSuccess": True, "statusCode": 200, "errorMessage": None, "data": data}
    return json.dumps(body | fields)


@pytest.mark.parametrize(
    ("data", "amount"),
    [
        ("12,345,678.90", Decimal("12345678.90")),
        ("-1,250.75", Decimal("-1250.75")),
        (" 42 ", Decimal(42)),
        ("0", Decimal(0)),
        ("0.001", Decimal("0.001")),
        ("999", Decimal(999)),
        ("1e3", Decimal(1000)),
        (".5", Decimal("0.5")),
    ],
)
def test_decaptcha_balance_text(data: str, amount: Decimal) -> None:
    assert parse("decaptcha", _decaptcha(data)).amount == amount


def test_decaptcha_unit_is_overridable() -> None:
    assert parse("decaptcha", _decaptcha("10"), unit="EUR").unit == "EUR"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("NaN", "data is not a number"),
        ("nan", "data is not a number"),
        ("sNaN", "data is not a number"),
        ("Infinity", "data is not a number"),
        ("-Infinity", "data is not a number"),
        ("abc", "data is not a number"),
        ("", "data is not a number"),
        ("$1,250.75", "data is not a number"),
        ("1,25", "data is not a number"),  # a decimal comma, not 125
        ("1.250,75", "data is not a number"),
        ("12,34.5", "data is not a number"),
        ("1,2345", "data is not a number"),
        # Decimal() reads these, no API means them: other scripts' digits, underscores
        ("١٢٣", "data is not a number"),
        ("１２３", "data is not a number"),
        ("1_000", "data is not a number"),
        ("1,000_000", "data is not a number"),
        ("١,٢٣٤.٥", "data is not a number"),
        ("\u00a0", "data is not a number"),
        ("1e400", "data is implausibly large"),
        ("1000000000000000", "data is implausibly large"),
        (None, "data is not a balance string"),
        (1250.75, "data is not a balance string"),
        (True, "data is not a balance string"),
    ],
)
def test_decaptcha_unreadable_balance(data: Any, reason: str) -> None:
    error = refused("decaptcha", _decaptcha(data))
    assert type(error) is ResponseError
    assert str(error) == f"unexpected response: {reason}"


def test_decaptcha_documented_401_is_an_auth_error(fixture_bytes: FixtureBytes) -> None:
    with pytest.raises(AuthError) as caught:
        parse("decaptcha", fixture_bytes("decaptcha", "unauthorized"))
    assert str(caught.value) == "credentials rejected: Invalid API key"


@pytest.mark.parametrize(
    ("fields", "kind", "message"),
    [
        (
            {"statusCode": 403, "errorMessage": "Forbidden"},
            AuthError,
            "credentials rejected: Forbidden",
        ),
        (
            {"statusCode": 500, "errorMessage": "Internal server error"},
            ResponseError,
            "provider reported failure: Internal server error",
        ),
        (
            {"statusCode": 402, "errorMessage": None},
            ResponseError,
            "provider reported failure: no reason given",
        ),
        (
            {"statusCode": 401, "errorMessage": f"Invalid API key {KEY}"},
            AuthError,
            "credentials rejected: Invalid API key ***",
        ),
    ],
    ids=["403", "500", "no-message", "echoed-key"],
)
def test_decaptcha_reported_failure(
    fields: dict[str, Any], kind: type[ProviderError], message: str
) -> None:
    error = refused("decaptcha", _decaptcha(None, isSuccess=False, **fields))
    assert type(error) is kind
    assert str(error) == message


def test_decaptcha_long_failure_message_is_cut() -> None:
    error = refused("decaptcha", _decaptcha(None, isSuccess=False, errorMessage="x" * 5000))
    assert str(error) == "provider reported failure: " + "x" * 199 + "…"


def test_decaptcha_failure_message_is_one_escaped_line() -> None:
    """The provider's words reach terminals and alerts: no escape or newline gets through."""
    text = "\x1b[2J\nfake-provider  $1,000,000  USD  OK\u202e"
    error = refused("decaptcha", _decaptcha(None, isSuccess=False, errorMessage=text))
    assert str(error) == (
        "provider reported failure: \\x1b[2J\\x0afake-provider  $1,000,000  USD  OK\\u202e"
    )


def test_srtgen_plan_text_is_one_escaped_line() -> None:
    body = {
        "credits": {
            "totalBalance": 5,
            "extraCredits": 0,
            "plans": [{"name": "pro\nfake", "status": "\x1b[31mpast_due", "total": 10}],
        }
    }
    [signal] = parse("srtgen", json.dumps(body)).signals
    assert signal.detail == "pro\\x0afake is \\x1b[31mpast_due"


@pytest.mark.parametrize("success", ["absent", "true", 1, None])
def test_decaptcha_success_flag_must_be_a_boolean(success: Any) -> None:
    body = json.loads(_decaptcha("10"))
    if success == "absent":
        del body["isSuccess"]
    else:
        body["isSuccess"] = success
    error = refused("decaptcha", json.dumps(body))
    assert type(error) is ResponseError
    assert str(error) == "unexpected response: isSuccess missing or not a boolean"


# -- shape errors, every provider -----------------------------------------------------------


@pytest.mark.parametrize("provider_type", TYPES)
@pytest.mark.parametrize("body", ["[]", '[{"data": "1"}]', '"1250.75"', "1250", "null", "true"])
def test_body_that_is_not_an_object(provider_type: str, body: str) -> None:
    error = refused(provider_type, body)
    assert type(error) is ResponseError
    assert str(error) == "unexpected response: body is not a JSON object"


SHAPE_ERRORS = [
    # browser7
    ("browser7", "{}", "totalBalanceCents missing"),
    ("browser7", '{"totalBalanceCents": "1700"}', "totalBalanceCents is not a number (a string)"),
    ("browser7", '{"totalBalanceCents": true}', "totalBalanceCents is not a number (a boolean)"),
    ("browser7", '{"totalBalanceCents": null}', "totalBalanceCents is not a number (null)"),
    ("browser7", '{"totalBalanceCents": [1700]}', "totalBalanceCents is not a number (list)"),
    ("browser7", '{"totalBalanceCents": 1e400}', "totalBalanceCents is implausibly large"),
    ("browser7", '{"totalBalanceCents": -1e15}', "totalBalanceCents is implausibly large"),
    (
        "browser7",
        '{"totalBalanceCents": 1, "breakdown": {"paid": 5}}',
        "breakdown.paid is not an object",
    ),
    (
        "browser7",
        '{"totalBalanceCents": 1, "breakdown": {"paid": {"cents": "1"}}}',
        "breakdown.paid.cents is not a number (a string)",
    ),
    (
        "browser7",
        '{"totalBalanceCents": 1, "breakdown": {"bonus": {}}}',
        "breakdown.bonus.cents missing",
    ),
    # youcom
    ("youcom", "{}", "data missing"),
    ("youcom", '{"data": []}', "data is not an object"),
    ("youcom", '{"data": {"attributes": {}}}', "data.attributes.balance missing"),
    ("youcom", '{"data": {"attributes": null}}', "data.attributes is not an object"),
    (
        "youcom",
        '{"data": {"attributes": {"balance": "718924.5"}}}',
        "data.attributes.balance is not a number (a string)",
    ),
    (
        "youcom",
        '{"data": {"attributes": {"balance": false}}}',
        "data.attributes.balance is not a number (a boolean)",
    ),
    (
        "youcom",
        '{"data": {"attributes": {"balance": null}}}',
        "data.attributes.balance is not a number (null)",
    ),
    (
        "youcom",
        '{"data": {"attributes": {"balance": 1e15}}}',
        "data.attributes.balance is implausibly large",
    ),
    # lobstr
    ("lobstr", '{"consumed": 1}', "available missing"),
    ("lobstr", '{"available": 1}', "consumed missing"),
    ("lobstr", '{"available": "10000", "consumed": 1}', "available is not a number (a string)"),
    ("lobstr", '{"available": 10000, "consumed": null}', "consumed is not a number (null)"),
    ("lobstr", '{"available": true, "consumed": 0}', "available is not a number (a boolean)"),
    ("lobstr", '{"available": 1e16, "consumed": 0}', "available is implausibly large"),
    (
        "lobstr",
        '{"available": 1, "consumed": 0, "rollover_credit": "200"}',
        "rollover_credit is not a number (a string)",
    ),
    (
        "lobstr",
        '{"available": 1, "consumed": 0, "has_unpaid_bill": "no"}',
        "has_unpaid_bill is not a boolean",
    ),
    # srtgen
    ("srtgen", '{"success": true}', "credits missing"),
    ("srtgen", '{"credits": []}', "credits is not an object"),
    ("srtgen", '{"credits": {"extraCredits": 0, "plans": []}}', "credits.totalBalance missing"),
    (
        "srtgen",
        '{"credits": {"totalBalance": "1250", "extraCredits": 0, "plans": []}}',
        "credits.totalBalance is not a number (a string)",
    ),
    (
        "srtgen",
        '{"credits": {"totalBalance": 1, "extraCredits": null, "plans": []}}',
        "credits.extraCredits is not a number (null)",
    ),
    (
        "srtgen",
        '{"credits": {"totalBalance": 1, "extraCredits": 0}}',
        "credits.plans missing",
    ),
    (
        "srtgen",
        '{"credits": {"totalBalance": 1, "extraCredits": 0, "plans": {}}}',
        "credits.plans is not a list",
    ),
    (
        "srtgen",
        '{"credits": {"totalBalance": 1, "extraCredits": 0, "plans": [5]}}',
        "credits.plans[0] is not an object",
    ),
    (
        "srtgen",
        '{"credits": {"totalBalance": 1, "extraCredits": 0,'
        ' "plans": [{"status": "active", "total": "1000"}]}}',
        "credits.plans[0].total is not a number (a string)",
    ),
    (
        "srtgen",
        '{"credits": {"totalBalance": 1, "extraCredits": 0, "plans": []},'
        ' "storage": {"usage": "200 MB", "limit": 10}}',
        "storage.usage is not a number (a string)",
    ),
]


@pytest.mark.parametrize(("provider_type", "body", "reason"), SHAPE_ERRORS)
def test_body_not_in_documented_shape(provider_type: str, body: str, reason: str) -> None:
    error = refused(provider_type, body)
    assert type(error) is ResponseError
    assert str(error) == f"unexpected response: {reason}"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML"),
        (b"  <html><title>Login</title></html>", "HTML"),
        (b"", "non-JSON"),
        (b"Service Unavailable", "non-JSON"),
        (b'{"totalBalanceCents": NaN}', "non-JSON"),
        (b'{"totalBalanceCents": Infinity}', "non-JSON"),
        (b'{"totalBalanceCents": 17', "non-JSON"),
        (b"\xff\xfe\x00garbage", "non-JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "non-JSON"),
    ],
    ids=[
        "html",
        "html-indented",
        "empty",
        "text",
        "nan",
        "infinity",
        "truncated",
        "binary",
        "deep",
    ],
)
def test_decode_json_refuses_what_is_not_json(raw: bytes, kind: str) -> None:
    with pytest.raises(ResponseError) as caught:
        decode_json(raw)
    assert str(caught.value) == f"{kind} response body, not JSON"


def test_decode_json_numbers_are_decimal() -> None:
    body = decode_json(b'{"a": 0.1, "b": 3, "c": -2.5e3}')
    assert body == {"a": Decimal("0.1"), "b": Decimal(3), "c": Decimal("-2.5e3")}
    assert all(type(value) is Decimal for value in body.values())


# -- http_json ------------------------------------------------------------------------------

USD_MINOR = "account.wallets[?currency=='USD'].balance_minor | [0]"


@pytest.mark.parametrize(
    ("settings", "amount", "unit", "capacity"),
    [
        ({"expression": USD_MINOR, "scale": "100", "unit": "USD"}, Decimal("1234.56"), "USD", None),
        (
            {
                "expression": USD_MINOR,
                "scale": 100,
                "unit": "USD",
                "capacity_expression": "sum(account.plans[].total)",
            },
            Decimal("1234.56"),
            "USD",
            Decimal("1500.005"),
        ),
        ({"expression": "account.wallets[0].balance_minor"}, Decimal(500), "units", None),
        (
            {"expression": "max(account.wallets[].balance_minor)", "scale": "1000"},
            Decimal("123.456"),
            "units",
            None,
        ),
        (
            {"expression": "account.wallets[1].balance_minor", "capacity_expression": "`200000`"},
            Decimal(123456),
            "units",
            Decimal(200000),
        ),
    ],
    ids=["filter-and-scale", "sum-capacity", "index", "max-function", "literal-capacity"],
)
def test_http_json_expressions(
    fixture_bytes: FixtureBytes,
    settings: dict[str, Any],
    amount: Decimal,
    unit: str,
    capacity: Decimal | None,
) -> None:
    provider = make("http_json", path="/wallet", **settings)
    reading = provider.parse(decode_json(fixture_bytes("http_json", "wallets")), CHECKED_AT)
    assert type(reading.amount) is Decimal
    assert reading.amount == amount
    assert reading.unit == unit
    assert reading.capacity == capacity
    assert provider.has_capacity() is (capacity is not None)
    assert reading.checked_at == CHECKED_AT


@pytest.mark.parametrize(
    ("body", "expression", "amount"),
    [
        ('[{"credits": 42}]', "[0].credits", Decimal(42)),
        ('{"balance": "1,234.50"}', "balance", Decimal("1234.50")),
        ('{"balance": -250}', "balance", Decimal(-250)),
        ('{"balance": "17.5"}', "to_number(balance)", Decimal("17.5")),
        ('{"balance": 17.5}', "to_number(balance)", Decimal("17.5")),  # not truncated to 17
        ('{"balance": 17.5}', "type(balance) == 'number' && balance || `0`", Decimal("17.5")),
        ('{"balance": -0.75}', "abs(balance)", Decimal("0.75")),
        ('{"items": [{"v": 1.5}, {"v": 2.25}]}', "avg(items[].v)", Decimal("1.875")),
    ],
)
def test_http_json_other_bodies(body: str, expression: str, amount: Decimal) -> None:
    assert parse("http_json", body, path="/b", expression=expression).amount == amount


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"expression": "account.missing"}, "balance expression matched nothing"),
        ({"expression": "account.id"}, "balance expression is not a number"),
        ({"expression": "account.wallets"}, "balance expression is not a number (list)"),
        ({"expression": "account.plans[0]"}, "balance expression is not a number (dict)"),
        ({"expression": "`true`"}, "balance expression is not a number (a boolean)"),
        ({"expression": '`"NaN"`'}, "balance expression is not a number"),
        ({"expression": "`1000000000000000`"}, "balance expression is implausibly large"),
        (
            {"expression": "account.wallets[0].balance_minor", "capacity_expression": "nope"},
            "capacity expression matched nothing",
        ),
        ({"expression": "sum(account.wallets)"}, "JMESPathTypeError"),
    ],
)
def test_http_json_refused(
    fixture_bytes: FixtureBytes, settings: dict[str, Any], reason: str
) -> None:
    provider = make("http_json", path="/wallet", **settings)
    with pytest.raises(ResponseError) as caught:
        provider.parse(decode_json(fixture_bytes("http_json", "wallets")), CHECKED_AT)
    assert str(caught.value) == f"unexpected response: {reason}"


# -- status mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        ("86399", 86399.0),
        # kept, not dropped: the engine caps the deferral (a day used to silence a check)
        ("86400", 86400.0),
        ("99999999999999999999", 1e9),
        ("9" * 5000, 1e9),  # int() would refuse over 4300 digits
        # RFC 9110 delay-seconds is ASCII digits: float() and int() accept much more
        ("8_6_3_9_9", None),
        ("1.5", None),
        ("1e3", None),
        ("+30", None),
        ("-1", None),
        ("٣٠", None),
        ("３０", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
        # the HTTP-date form, against the injected now (2026-03-29 17:50 UTC)
        ("Sun, 29 Mar 2026 17:52:30 GMT", 150.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: try now
        ("Sun, 29 Mar 2026 17:52:30 -0000", 150.0),
        ("Sun, 99 Mar 2026 17:52:30 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, CHECKED_AT) == seconds


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_check_status_passes_success(status: int) -> None:
    check_status(status, httpx.Headers(), CHECKED_AT)


@pytest.mark.parametrize(
    ("status", "headers", "kind", "message"),
    [
        (401, {}, AuthError, "credentials rejected (HTTP 401)"),
        (403, {}, AuthError, "credentials rejected (HTTP 403)"),
        (429, {"Retry-After": "30"}, RateLimitedError, "rate limited (HTTP 429, retry after 30s)"),
        (
            429,
            {"retry-after": "Sun, 29 Mar 2026 17:51:00 GMT"},
            RateLimitedError,
            "rate limited (HTTP 429, retry after 60s)",
        ),
        (429, {"retry-after": "8_6_3_9_9"}, RateLimitedError, "rate limited (HTTP 429)"),
        (429, {}, RateLimitedError, "rate limited (HTTP 429)"),
        (500, {}, UnavailableError, "provider unavailable (HTTP 500)"),
        (502, {}, UnavailableError, "provider unavailable (HTTP 502)"),
        (503, {"Retry-After": "30"}, UnavailableError, "provider unavailable (HTTP 503)"),
        (404, {}, ResponseError, "unexpected HTTP 404"),
        (400, {}, ResponseError, "unexpected HTTP 400"),
        (302, {"Location": "/login"}, ResponseError, "unexpected HTTP 302"),
    ],
)
def test_check_status_maps_errors(
    status: int, headers: dict[str, str], kind: type[ProviderError], message: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        check_status(status, httpx.Headers(headers), CHECKED_AT)
    assert type(caught.value) is kind
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("30", 30.0), ("Sun, 29 Mar 2026 17:51:00 GMT", 60.0), ("soon", None)],
)
def test_rate_limit_carries_retry_after(retry_after: str, expected: float | None) -> None:
    with pytest.raises(RateLimitedError) as caught:
        check_status(429, httpx.Headers({"Retry-After": retry_after}), CHECKED_AT)
    assert caught.value.retry_after == expected


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("handler", "kind", "message"),
    [
        (lambda r: httpx.Response(503), UnavailableError, "provider unavailable (HTTP 503)"),
        (
            lambda r: httpx.Response(301, headers={"Location": "https://elsewhere.example/"}),
            ResponseError,
            "unexpected HTTP 301",
        ),
        (
            _raise(httpx.ConnectError("[Errno 111] Connection refused")),
            UnavailableError,
            "cannot connect (refused or unreachable)",
        ),
        (_raise(httpx.ReadTimeout("read timed out")), UnavailableError, "timed out after 5s"),
        (
            _raise(httpx.RemoteProtocolError("peer closed connection")),
            UnavailableError,
            "transport error (RemoteProtocolError)",
        ),
    ],
    ids=["503", "redirect-not-followed", "connect-error", "read-timeout", "protocol-error"],
)
async def test_fetch_maps_transport_outcomes(
    handler: Callable[[httpx.Request], httpx.Response],
    kind: type[ProviderError],
    message: str,
) -> None:
    provider = make("browser7", timeout=timedelta(seconds=5))
    async with HttpClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderError) as caught:
            await provider.fetch(client, CHECKED_AT)
    assert type(caught.value) is kind
    assert str(caught.value) == message
    assert KEY not in str(caught.value)
