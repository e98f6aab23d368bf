"""http_json's request and answer keys (issue 12): a POST with a JSON body, the key in a
header, a query parameter, the body or HTTP Basic credentials, remaining = capacity − used,
a reset time, a unit read from the body, and errors reported inside a 200.

Configs are loaded from YAML as a user writes them; requests go to the real loopback stub.
"""

from __future__ import annotations

import base64
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.configs import load_text, problems_of
from support.http_stub import HttpStub, Reply

from alertd.errors import AuthError, ResponseError
from alertd.http import HttpClient
from alertd.providers import Provider
from alertd.providers.base import decode_json
from alertd.providers.reset import next_period_start

KEY = "SENTINEL-KEY-http-json-71e0"
NOW = datetime(2026, 3, 29, 17, 50, tzinfo=UTC)  # a Sunday


def config(body: str, base_url: str = "http://127.0.0.1:9") -> str:
    """One http_json provider `p` with these keys (YAML lines, indented or not)."""
    lines = textwrap.dedent(body).strip().splitlines()
    head = f"providers:\n  p:\n    type: http_json\n    base_url: {base_url}\n"
    return head + "".join(f"    {line}\n" for line in lines)


def provider(tmp_path: Path, body: str, base_url: str = "http://127.0.0.1:9") -> Provider:
    return load_text(tmp_path, config(body, base_url)).providers["p"]


def problems(tmp_path: Path, body: str) -> list[str]:
    text = config(body)
    prefix = f"{tmp_path / 'config.yaml'}: provider 'p': "
    lines = problems_of(tmp_path, text)
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


def parse(p: Provider, body: str) -> Any:
    return p.parse(decode_json(body.encode()), NOW)


# -- where the key travels -------------------------------------------------------------------


async def test_post_sends_the_body_with_the_key_in_it(
    tmp_path: Path, stub_server: HttpStub, http_client: HttpClient
) -> None:
    stub_server.answer("/getBalance", Reply.json({"errorId": 0, "balance": 3.5}))
    p = provider(
        tmp_path,
        f"""
        path: /getBalance
        method: POST
        body: {{softId: 7, nested: {{a: [1, "x"]}}}}
        auth: {{body: clientKey}}
        api_key: {KEY}
        expression: balance
        """,
        stub_server.url,
    )
    reading = await p.fetch(http_client, NOW)
    [seen] = stub_server.requests
    assert reading.amount == Decimal("3.5")
    assert (seen.method, seen.path) == ("POST", "/getBalance")
    assert seen.json() == {"softId": 7, "nested": {"a": [1, "x"]}, "clientKey": KEY}
    assert seen.headers["content-type"] == "application/json"
    assert p.url == f"{stub_server.url}/getBalance"


async def test_query_key_is_added_to_the_request_only(
    tmp_path: Path, stub_server: HttpStub, http_client: HttpClient
) -> None:
    stub_server.answer("/account.json", Reply.json({"left": 12}))
    p = provider(
        tmp_path,
        f"""
        path: /account.json?output=json
        auth: {{query: api_key}}
        api_key: "{KEY}&x=1"
        expression: left
        """,
        stub_server.url,
    )
    await p.fetch(http_client, NOW)
    [seen] = stub_server.requests
    assert seen.path == "/account.json?output=json&api_key=SENTINEL-KEY-http-json-71e0%26x%3D1"
    assert KEY not in p.url  # what could ever be shown has no query key


@pytest.mark.parametrize(
    "credentials",
    [f'api_key: "acct-1:{KEY}"', f"user: acct-1\npassword: {KEY}"],
    ids=["api-key-user-colon-password", "user-and-password"],
)
async def test_basic_auth_and_the_user_in_the_path(
    tmp_path: Path, stub_server: HttpStub, http_client: HttpClient, credentials: str
) -> None:
    stub_server.answer("/v1/Account/acct-1/", Reply.json({"cash_credits": "1.80900"}))
    p = provider(
        tmp_path,
        f"path: /v1/Account/{{user}}/\nauth: basic\nexpression: cash_credits\n{credentials}",
        stub_server.url,
    )
    reading = await p.fetch(http_client, NOW)
    [seen] = stub_server.requests
    assert reading.amount == Decimal("1.80900")
    token = base64.b64encode(f"acct-1:{KEY}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {token}"
    assert KEY not in seen.path
    assert set(p.secrets()) >= {"acct-1", KEY, token}  # each piece known to the redactor


async def test_header_key_with_a_prefix(
    tmp_path: Path, stub_server: HttpStub, http_client: HttpClient
) -> None:
    stub_server.answer("/v2/usage", Reply.json({"n": 1}))
    p = provider(
        tmp_path,
        f"""
        path: /v2/usage
        auth: {{header: Authorization, prefix: "DeepL-Auth-Key "}}
        api_key: {KEY}
        expression: n
        """,
        stub_server.url,
    )
    await p.fetch(http_client, NOW)
    assert stub_server.requests[0].headers["authorization"] == f"DeepL-Auth-Key {KEY}"


def test_api_key_file_works_for_http_json(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text(f"{KEY}\n", encoding="utf-8")
    p = provider(tmp_path, f"path: /b\nauth: {{query: k}}\napi_key_file: {secret}\nexpression: a")
    assert p.request_url() == f"http://127.0.0.1:9/b?k={KEY}"


# -- reading the answer ------------------------------------------------------------------------


def test_remaining_is_capacity_minus_used_with_scale(tmp_path: Path) -> None:
    p = provider(
        tmp_path,
        """
        path: /b
        used_expression: usage.cents
        capacity_expression: limits.cents
        scale: 100
        unit: USD
        """,
    )
    reading = parse(p, '{"usage": {"cents": "1250"}, "limits": {"cents": 30000}}')
    assert (reading.amount, reading.capacity) == (Decimal("287.5"), Decimal(300))
    over = parse(p, '{"usage": {"cents": 30100}, "limits": {"cents": 30000}}')
    assert over.amount == Decimal(-1)  # used past the limit: a real, negative reading


@pytest.mark.parametrize(
    ("value", "resets_at"),
    [
        ('"2026-04-13T09:18:42Z"', datetime(2026, 4, 13, 9, 18, 42, tzinfo=UTC)),
        ('"2026-04-13T09:18:42"', datetime(2026, 4, 13, 9, 18, 42, tzinfo=UTC)),  # no zone: UTC
        ("1738356858", datetime.fromtimestamp(1738356858, UTC)),
        ('"daily"', datetime(2026, 3, 30, tzinfo=UTC)),
        ('"weekly"', datetime(2026, 3, 30, tzinfo=UTC)),  # next Monday
        ('"Monthly"', datetime(2026, 4, 1, tzinfo=UTC)),
        ("null", None),
        ('"soon"', None),
        ("true", None),
        ("-5", None),
    ],
)
def test_reset_expression(tmp_path: Path, value: str, resets_at: datetime | None) -> None:
    p = provider(tmp_path, "path: /b\nexpression: left\nreset_expression: resets")
    assert parse(p, f'{{"left": 5, "resets": {value}}}').resets_at == resets_at


def test_weekly_and_monthly_resets_roll_over() -> None:
    monday = datetime(2026, 3, 30, 0, 0, tzinfo=UTC)
    assert next_period_start("weekly", monday) == datetime(2026, 4, 6, tzinfo=UTC)
    assert next_period_start("monthly", datetime(2026, 12, 31, 23, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    assert next_period_start("yearly", monday) is None


@pytest.mark.parametrize(
    ("currency", "unit"),
    [('"EUR"', "EUR"), ("null", "USD"), ('""', "USD"), ("5", "USD"), ('"' + "X" * 17 + '"', "USD")],
)
def test_unit_expression_falls_back_to_unit(tmp_path: Path, currency: str, unit: str) -> None:
    p = provider(tmp_path, "path: /b\nexpression: v\nunit_expression: cur\nunit: USD")
    assert parse(p, f'{{"v": 1, "cur": {currency}}}').unit == unit


def error_reporting(tmp_path: Path) -> Provider:
    """An account whose answers say `e` when something went wrong, and `v` otherwise."""
    body = f"path: /b\nexpression: v\nerror_expression: e\napi_key: {KEY}\nauth: {{header: X-K}}"
    return provider(tmp_path, body)


@pytest.mark.parametrize("value", ["0", "false", '""', "null", "[]", "{}"])
def test_error_expression_stays_quiet_on_a_falsy_value(tmp_path: Path, value: str) -> None:
    assert parse(error_reporting(tmp_path), f'{{"v": 1, "e": {value}}}').amount == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2", "provider reported failure: no reason given"),
        ("true", "provider reported failure: no reason given"),
        ('"quota\\nexceeded \\u001b[2J"', "provider reported failure: quota\\x0aexceeded \\x1b[2J"),
        (f'"bad key {KEY}"', "provider reported failure: bad key ***"),
    ],
)
def test_error_expression_fires_on_a_truthy_value(tmp_path: Path, value: str, reason: str) -> None:
    with pytest.raises(ResponseError) as caught:
        parse(error_reporting(tmp_path), f'{{"v": 1, "e": {value}}}')
    assert caught.value.reason == reason


def test_auth_error_expression_is_credentials_rejected(tmp_path: Path) -> None:
    p = provider(
        tmp_path, "path: /b\nexpression: v\nauth_error_expression: \"code == 'NOKEY' && code\""
    )
    with pytest.raises(AuthError) as caught:
        parse(p, '{"code": "NOKEY"}')
    assert caught.value.reason == "credentials rejected: NOKEY"
    assert parse(p, '{"code": "OTHER", "v": 2}').amount == 2


# -- config problems ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("path: /b", ["expression: required for type http_json (or used_expression)"]),
        (
            "path: /b\nexpression: a\nused_expression: b\ncapacity_expression: c",
            ["used_expression: give expression or used_expression, not both"],
        ),
        (
            "path: /b\nused_expression: b",
            ["used_expression: needs capacity_expression (remaining = capacity − used)"],
        ),
        (
            "path: /b\nexpression: a\nreset_expression: 'x[?'",
            [
                "reset_expression: invalid JMESPath expression: Invalid jmespath expression:"
                ' Incomplete expression: "x[?"'
            ],
        ),
        ("path: /b\nexpression: a\nbody: {x: 1}", ["body: only sent with method: POST"]),
        (
            "path: /b\nexpression: a\nauth: {body: k}\napi_key: k",
            ["auth.body: a JSON body is only sent with method: POST"],
        ),
        (
            "path: /a/{user}\nexpression: a",
            ["path: {user} is filled in from the Basic user: it needs auth: basic"],
        ),
        (
            "path: /b\nexpression: a\nmethod: PUT",
            ["method: 'PUT' is not a valid method; known: GET, POST"],
        ),
        (
            "path: /b\nexpression: a\nauth: {header: X, query: k}",
            ["auth: give exactly one of header, query, body or basic"],
        ),
        (
            "path: /b\nexpression: a\nauth: {query: k, prefix: 'Bearer '}",
            ["auth: prefix goes with header only"],
        ),
        (
            'path: /b\nexpression: a\nauth: {header: X, prefix: "B\\r\\nX-Evil: 1 "}',
            ["auth: prefix: printable ASCII only (it starts an HTTP header value)"],
        ),
        (
            "path: /b\nexpression: a\nauth: {header: 'X K'}",
            ["auth: header: not a valid HTTP header name"],
        ),
        (
            "path: /b\nexpression: a\napi_key: k",
            ["api_key: not sent anywhere: say where with auth (header, query, body, basic)"],
        ),
        (
            "path: /b\nexpression: a\nauth: {query: k}",
            ["api_key: required (or api_key_file); it is missing or empty"],
        ),
        (
            "path: /b\nexpression: a\nuser: u\npassword: p",
            ["user: only used with auth: basic", "password: only used with auth: basic"],
        ),
        ("path: /b\nexpression: a\nauth: basic\nuser: u", ["password: required with user"]),
        (
            "path: /b\nexpression: a\nauth: basic\napi_key: justakey",
            ["api_key: with auth: basic, write it USER:PASSWORD (or set user and password)"],
        ),
        (
            "path: /b\nexpression: a\nauth: basic\nuser: 'a:b'\npassword: p",
            ["user: may not contain ':' (HTTP Basic splits there)"],
        ),
        (
            "path: /b\nexpression: a\nmethod: POST\nbody: {when: 2026-01-01}",
            ["body: must be JSON: strings, numbers, booleans, lists and mappings"],
        ),
    ],
)
def test_config_problems_name_the_key(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert problems(tmp_path, body) == expected
