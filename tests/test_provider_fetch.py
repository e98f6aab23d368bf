"""Provider adapters over real HTTP: a loopback server checks what is sent, answers what a
provider might, and the test checks what a user would see (a reading, or the reason why not).

Every request goes through the production client (`alertd.http.make_client`). The API key is a
sentinel that must never appear in an error.
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hostile.providers_support import https_url, tls_serving
from support.http_stub import HttpStub, Reply

from alertd.config.model import ProviderConfig
from alertd.errors import (
    AuthError,
    ProviderError,
    RateLimitedError,
    ResponseError,
    UnavailableError,
)
from alertd.http import HttpClient
from alertd.providers import build
from alertd.providers.base import MAX_BODY_BYTES, Provider

KEY = "SENTINEL-KEY-7f3a"
CHECKED_AT = datetime(2026, 3, 29, 17, 50, tzinfo=UTC)
PREFIX = "/gateway/acct-7"  # base_url carries a path: the documented path goes after it
FixtureBytes = Callable[[str, str], bytes]


@dataclass(frozen=True)
class Kind:
    """One provider type: where it must send the request, how, and the reading it yields."""

    type: str
    path: str
    auth: tuple[str, str]  # header name (lowercase), exact value
    fixture: str
    amount: Decimal
    settings: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.type


KINDS = [
    Kind(
        "browser7",
        "/v1/account/balance",
        ("authorization", f"Bearer {KEY}"),
        "balance_1700",
        Decimal("17.00"),
    ),
    Kind(
        "youcom", "/v1/billing/account_balance", ("x-api-key", KEY), "balance", Decimal("7189.245")
    ),
    Kind("lobstr", "/v1/user/balance", ("authorization", f"Token {KEY}"), "balance", Decimal(8450)),
    Kind("srtgen", "/api/v1/balance", ("x-api-key", KEY), "balance", Decimal(1250)),
    Kind("decaptcha", "/api/balance", ("x-api-key", KEY), "balance_separators", Decimal("1250.75")),
    Kind(
        "http_json",
        "/v2/wallet",
        ("x-wallet-token", KEY),
        "wallets",
        Decimal("1234.56"),
        {
            "path": "v2/wallet",
            "headers": {"X-Wallet-Token": KEY},
            "expression": "account.wallets[?currency=='USD'].balance_minor | [0]",
            "scale": 100,
            "unit": "USD",
        },
    ),
]


def provider_for(kind: Kind, base_url: str, timeout: float = 5.0) -> Provider:
    config: dict[str, Any] = {
        "type": kind.type,
        "base_url": base_url,
        "timeout": timedelta(seconds=timeout),
        **kind.settings,
    }
    if kind.type != "http_json":
        config["api_key"] = KEY
    return build(kind.type, ProviderConfig(**config))


def assert_no_secret(error: BaseException) -> None:
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert isinstance(error, ProviderError)
    assert KEY not in error.reason


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_reading_with_documented_request(
    kind: Kind,
    stub_server: HttpStub,
    http_client: HttpClient,
    fixture_bytes: FixtureBytes,
) -> None:
    stub_server.answer(PREFIX + kind.path, Reply(body=fixture_bytes(kind.type, kind.fixture)))
    provider = provider_for(kind, stub_server.url + PREFIX)

    reading = await provider.fetch(http_client, CHECKED_AT)

    assert reading.amount == kind.amount
    assert type(reading.amount) is Decimal
    assert reading.checked_at == CHECKED_AT
    [seen] = stub_server.requests
    assert seen.method == "GET"
    assert seen.path == PREFIX + kind.path
    name, value = kind.auth
    assert seen.headers[name] == value
    # the key travels in the documented header and nowhere else
    assert [header for header, text in seen.headers.items() if KEY in text] == [name]
    assert seen.headers["accept"] == "application/json"


HTML = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body></body></html>"
TOO_BIG = b"x" * (MAX_BODY_BYTES + 1)
REFUSED = f"response body over {MAX_BODY_BYTES // 1024} KiB refused"


def compressed(data: bytes, wbits: int = zlib.MAX_WBITS | 16) -> bytes:
    """gzip by default; zlib.MAX_WBITS: zlib-wrapped deflate; -zlib.MAX_WBITS: raw deflate."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


def encoded(body: bytes, coding: str) -> Reply:
    return Reply(body=body, headers={"Content-Encoding": coding})


# a gzip body that decodes to one byte more than the cap, though it is 1 KiB on the wire
OVER_CAP_GZIP = compressed(b" " * (MAX_BODY_BYTES + 1))


@dataclass(frozen=True)
class Failure:
    reply: Reply
    error: type[ProviderError]
    message: str
    timeout: float = 5.0


FAILURES = {
    "401": Failure(
        Reply(
            status=401, body=b'{"error": "Unauthorized", "message": "Invalid or missing API key"}'
        ),
        AuthError,
        "credentials rejected (HTTP 401)",
    ),
    "403": Failure(
        Reply(status=403, body=b'{"detail": "API key lacks scope for this path"}'),
        AuthError,
        "credentials rejected (HTTP 403)",
    ),
    "429": Failure(
        Reply(status=429, headers={"Retry-After": "30"}, body=b'{"detail": "slow down"}'),
        RateLimitedError,
        "rate limited (HTTP 429, retry after 30s)",
    ),
    "500": Failure(
        Reply(status=500, body=b'{"code": "server_error"}'),
        UnavailableError,
        "provider unavailable (HTTP 500)",
    ),
    "503-html": Failure(
        Reply(status=503, content_type="text/html", body=HTML),
        UnavailableError,
        "provider unavailable (HTTP 503)",
    ),
    "404": Failure(
        Reply(status=404, body=b'{"detail": "Not Found"}'),
        ResponseError,
        "unexpected HTTP 404",
    ),
    "html-200": Failure(
        Reply(content_type="text/html; charset=utf-8", body=HTML),
        ResponseError,
        "HTML response body, not JSON",
    ),
    "empty-200": Failure(Reply(body=b""), ResponseError, "non-JSON response body, not JSON"),
    "slow-headers": Failure(
        Reply(delay=30), UnavailableError, "timed out after 0.25s", timeout=0.25
    ),
    # each piece arrives well within the read timeout, the whole body does not
    "slow-drip": Failure(
        Reply(body=b'{"padding": "' + b"." * 60 + b'"}', chunk_size=4, drip=0.05),
        UnavailableError,
        "timed out after 0.25s",
        timeout=0.25,
    ),
    "oversized-content-length": Failure(Reply(body=TOO_BIG), ResponseError, REFUSED),
    "oversized-chunked": Failure(Reply(body=TOO_BIG, chunked=True), ResponseError, REFUSED),
    # refused on the declared length alone: the body never comes, so reading it would time out
    "oversized-declared": Failure(
        Reply(declared_length=2 * MAX_BODY_BYTES, hold=True), ResponseError, REFUSED
    ),
    # the cap counts decoded bytes, and only codings alertd asked for are decoded, once
    "gzip-over-cap": Failure(encoded(OVER_CAP_GZIP, "gzip"), ResponseError, REFUSED),
    "deflate-over-cap": Failure(
        encoded(compressed(b" " * (MAX_BODY_BYTES + 1), zlib.MAX_WBITS), "deflate"),
        ResponseError,
        REFUSED,
    ),
    "gzip-of-gzip": Failure(
        encoded(compressed(compressed(b"{}")), "gzip, gzip"),
        ResponseError,
        "stacked content encodings refused (gzip, gzip)",
    ),
    "deflate-then-gzip": Failure(
        encoded(compressed(b"{}"), "deflate, identity, gzip"),
        ResponseError,
        "stacked content encodings refused (deflate, gzip)",
    ),
    "brotli": Failure(
        encoded(b"\x8b\x00\x80{}\x03", "br"),
        ResponseError,
        "content encoding 'br' refused (alertd asks for gzip, deflate)",
    ),
    "zstd": Failure(
        encoded(b"(\xb5/\xfd", "zstd"),
        ResponseError,
        "content encoding 'zstd' refused (alertd asks for gzip, deflate)",
    ),
    "corrupt-gzip": Failure(
        encoded(b"this is not gzip at all", "gzip"),
        ResponseError,
        "response body is not valid compressed data",
    ),
    "truncated-gzip": Failure(
        encoded(compressed(b'{"totalBalanceCents": 1700}')[:-12], "gzip"),
        ResponseError,
        "response body is truncated compressed data",
    ),
}


@pytest.mark.parametrize("case", FAILURES)
@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_failure_is_reported_with_its_reason(
    kind: Kind, case: str, stub_server: HttpStub, http_client: HttpClient
) -> None:
    failure = FAILURES[case]
    stub_server.answer(PREFIX + kind.path, failure.reply)
    provider = provider_for(kind, stub_server.url + PREFIX, timeout=failure.timeout)

    with pytest.raises(ProviderError) as caught:
        await provider.fetch(http_client, CHECKED_AT)

    assert type(caught.value) is failure.error
    assert str(caught.value) == failure.message
    assert_no_secret(caught.value)
    if isinstance(caught.value, RateLimitedError):
        assert caught.value.retry_after == 30
    [seen] = stub_server.requests
    assert seen.headers[kind.auth[0]] == kind.auth[1]


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_connection_refused(kind: Kind, closed_port: int, http_client: HttpClient) -> None:
    provider = provider_for(kind, f"http://127.0.0.1:{closed_port}")
    with pytest.raises(UnavailableError) as caught:
        await provider.fetch(http_client, CHECKED_AT)
    assert str(caught.value) == "cannot connect (refused or unreachable)"
    assert_no_secret(caught.value)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_of_exactly_the_cap_is_read(
    chunked: bool, stub_server: HttpStub, http_client: HttpClient
) -> None:
    head, tail = b'{"totalBalanceCents": 1700, "pad": "', b'"}'
    body = head + b" " * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES
    stub_server.answer(KINDS[0].path, Reply(body=body, chunked=chunked))
    reading = await provider_for(KINDS[0], stub_server.url).fetch(http_client, CHECKED_AT)
    assert reading.amount == Decimal("17.00")


async def test_decaptcha_failure_inside_a_200(
    stub_server: HttpStub, http_client: HttpClient, fixture_bytes: FixtureBytes
) -> None:
    """DeCaptcha reports a bad key as `isSuccess: false, statusCode: 401`, maybe with HTTP 200."""
    stub_server.answer("/api/balance", Reply(body=fixture_bytes("decaptcha", "unauthorized")))
    provider = provider_for(KINDS[4], stub_server.url)
    with pytest.raises(AuthError) as caught:
        await provider.fetch(http_client, CHECKED_AT)
    assert str(caught.value) == "credentials rejected: Invalid API key"


async def test_decaptcha_echoed_key_is_not_repeated(
    stub_server: HttpStub, http_client: HttpClient
) -> None:
    body = (
        b'{"isSuccess": false, "statusCode": 401, "data": null,'
        b' "errorMessage": "API key ' + KEY.encode() + b' is not valid"}'
    )
    stub_server.answer("/api/balance", Reply(body=body))
    provider = provider_for(KINDS[4], stub_server.url)
    with pytest.raises(AuthError) as caught:
        await provider.fetch(http_client, CHECKED_AT)
    assert str(caught.value) == "credentials rejected: API key *** is not valid"
    assert_no_secret(caught.value)


async def test_hanging_provider_does_not_hold_up_the_others(
    stub_server: HttpStub, http_client: HttpClient, fixture_bytes: FixtureBytes
) -> None:
    """All six polled at once on the shared client: one hangs, the rest read on time."""
    hanging, *healthy = KINDS
    stub_server.answer(hanging.path, Reply(delay=30))
    for kind in healthy:
        stub_server.answer(kind.path, Reply(body=fixture_bytes(kind.type, kind.fixture)))
    providers = [provider_for(hanging, stub_server.url, timeout=0.25)] + [
        provider_for(kind, stub_server.url) for kind in healthy
    ]

    started = asyncio.get_running_loop().time()
    outcomes = await asyncio.gather(
        *(provider.fetch(http_client, CHECKED_AT) for provider in providers),
        return_exceptions=True,
    )
    elapsed = asyncio.get_running_loop().time() - started

    first, *rest = outcomes
    assert isinstance(first, UnavailableError)
    assert str(first) == "timed out after 0.25s"
    assert [getattr(reading, "amount", reading) for reading in rest] == [
        kind.amount for kind in healthy
    ]
    assert elapsed < 5  # bounded by the hanging provider's own timeout, not the others'


async def test_client_survives_failures(
    stub_server: HttpStub, http_client: HttpClient, fixture_bytes: FixtureBytes
) -> None:
    """After a refused oversized body and a timeout, the same client still reads normally."""
    kind = KINDS[1]
    provider = provider_for(kind, stub_server.url, timeout=0.25)
    outcomes: list[str] = []
    for reply in (
        Reply(body=TOO_BIG, chunked=True),
        Reply(delay=30),
        Reply(body=fixture_bytes(kind.type, kind.fixture)),
    ):
        stub_server.answer(kind.path, reply)
        try:
            reading = await provider.fetch(http_client, CHECKED_AT)
        except ProviderError as error:
            outcomes.append(str(error))
        else:
            outcomes.append(str(reading.amount))
    assert outcomes == [REFUSED, "timed out after 0.25s", "7189.245"]


async def test_a_forgotten_provider_pool_is_closed_and_others_keep_theirs(
    stub_server: HttpStub, http_client: HttpClient, fixture_bytes: FixtureBytes
) -> None:
    """A reload that removes a provider releases its pool; the others are untouched."""
    browser7, youcom = KINDS[0], KINDS[1]
    for kind in (browser7, youcom):
        stub_server.answer(PREFIX + kind.path, Reply(body=fixture_bytes(kind.type, kind.fixture)))
        await provider_for(kind, stub_server.url + PREFIX).fetch(http_client, CHECKED_AT)
    assert http_client.pools() == ["browser7", "youcom"]

    await http_client.forget("browser7")

    assert http_client.pools() == ["youcom"]
    again = await provider_for(browser7, stub_server.url + PREFIX).fetch(http_client, CHECKED_AT)
    assert again.amount == browser7.amount


@pytest.mark.parametrize(
    ("coding", "wbits"),
    [
        ("gzip", zlib.MAX_WBITS | 16),
        ("x-gzip", zlib.MAX_WBITS | 16),
        ("GZIP", zlib.MAX_WBITS | 16),
        ("deflate", zlib.MAX_WBITS),  # as RFC 9110 says: zlib-wrapped
        ("deflate", -zlib.MAX_WBITS),  # as many servers send it: raw
        ("identity", None),
        ("identity, gzip", zlib.MAX_WBITS | 16),
    ],
)
async def test_accepted_encodings_are_decoded(
    coding: str,
    wbits: int | None,
    stub_server: HttpStub,
    http_client: HttpClient,
    fixture_bytes: FixtureBytes,
) -> None:
    kind = KINDS[1]
    body = fixture_bytes(kind.type, kind.fixture)
    stub_server.answer(
        kind.path, encoded(body if wbits is None else compressed(body, wbits), coding)
    )
    reading = await provider_for(kind, stub_server.url).fetch(http_client, CHECKED_AT)
    assert reading.amount == kind.amount
    [seen] = stub_server.requests
    assert seen.headers["accept-encoding"] == "gzip, deflate"


async def test_gzip_body_decoding_to_exactly_the_cap_is_read(
    stub_server: HttpStub, http_client: HttpClient
) -> None:
    head, tail = b'{"totalBalanceCents": 1700, "pad": "', b'"}'
    body = head + b" " * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    stub_server.answer(KINDS[0].path, encoded(compressed(body), "gzip"))
    reading = await provider_for(KINDS[0], stub_server.url).fetch(http_client, CHECKED_AT)
    assert reading.amount == Decimal("17.00")


async def test_error_status_is_reported_before_the_body_is_decoded(
    stub_server: HttpStub, http_client: HttpClient
) -> None:
    """A 503 whose body is not valid gzip is still "provider unavailable (HTTP 503)"."""
    stub_server.answer(
        KINDS[0].path, Reply(status=503, body=b"nope", headers={"Content-Encoding": "gzip"})
    )
    with pytest.raises(UnavailableError) as caught:
        await provider_for(KINDS[0], stub_server.url).fetch(http_client, CHECKED_AT)
    assert str(caught.value) == "provider unavailable (HTTP 503)"


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_self_signed_certificate_is_reported_as_tls(
    kind: Kind, http_client: HttpClient, tmp_path: Path
) -> None:
    """It used to read "cannot connect (refused or unreachable)": the wrong place to look."""
    with tls_serving(tmp_path) as server:
        provider = provider_for(kind, https_url(server))
        with pytest.raises(UnavailableError) as caught:
            await provider.fetch(http_client, CHECKED_AT)
    assert str(caught.value) == (
        "TLS handshake failed: certificate not trusted (self-signed certificate)"
    )
    assert_no_secret(caught.value)


async def test_plain_http_spoken_to_a_tls_port_is_not_a_refusal(
    stub_server: HttpStub, http_client: HttpClient, tmp_path: Path
) -> None:
    """https:// to a plain-HTTP server: a TLS failure, named as such."""
    provider = provider_for(KINDS[0], stub_server.url.replace("http://", "https://"))
    with pytest.raises(UnavailableError) as caught:
        await provider.fetch(http_client, CHECKED_AT)
    assert str(caught.value).startswith("TLS handshake failed (")
