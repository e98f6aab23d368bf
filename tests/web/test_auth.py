"""Access control as plain code: which Authorization headers pass, what a 401 asks for, which
listen addresses are "beyond loopback", and the config keys with their one-line errors.
(Against `alertd run`: test_listener_api.py.)"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr
from support.configs import load_text, problems_of

from alertd.config.model import BasicAuth, HttpConfig
from alertd.web.auth import authorized, beyond_loopback, challenge

TOKEN = "tok-3f9a1c-sentinel"
BOTH = HttpConfig(
    auth_token=SecretStr(TOKEN),
    basic_auth=BasicAuth(username="ops", password=SecretStr("pw-sentinel-77")),
)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer   {TOKEN} ", True),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer ", False),
        (basic("ops", "pw-sentinel-77"), True),
        (basic("ops", "pw-sentinel-7"), False),
        (basic("Ops", "pw-sentinel-77"), False),
        (basic("ops", "pw-sentinel-77:"), False),
        ("Basic !!not-base64!!", False),
        ("Basic " + base64.b64encode(b"ops").decode(), False),  # no colon
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), False),
        (TOKEN, False),
        ("", False),
        ("Digest whatever", False),
    ],
)
def test_credentials(header: str, ok: bool) -> None:
    assert authorized(header, BOTH) is ok


def test_a_scheme_not_configured_never_passes() -> None:
    token_only = HttpConfig(auth_token=SecretStr(TOKEN))
    assert authorized(f"Bearer {TOKEN}", token_only)
    assert not authorized(basic("ops", TOKEN), token_only)
    assert challenge(token_only).getall("WWW-Authenticate") == ['Bearer realm="alertd"']


def test_a_401_asks_for_basic_first_so_that_a_browser_prompts() -> None:
    assert challenge(BOTH).getall("WWW-Authenticate") == [
        'Basic realm="alertd", charset="UTF-8"',
        'Bearer realm="alertd"',
    ]


@pytest.mark.parametrize(
    ("host", "beyond"),
    [
        ("127.0.0.1", False),
        ("127.0.0.53", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.10", True),
        ("alertd.internal", True),
    ],
)
def test_beyond_loopback(host: str, beyond: bool) -> None:
    assert beyond_loopback(host) is beyond


def test_auth_keys_load_and_are_secrets(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        f"""
        providers:
          p: {{type: browser7, api_key: k}}
        http:
          listen: 127.0.0.1:9464
          auth_token: {TOKEN}
          basic_auth: {{username: ops, password: pw-sentinel-77}}
          refresh: 10s
        """,
    )
    http = settings.config.http
    assert http.refresh.total_seconds() == 10
    assert TOKEN not in repr(http)
    assert "pw-sentinel-77" not in repr(http)
    assert {TOKEN, "pw-sentinel-77"} <= set(settings.secrets())  # redacted from every log


@pytest.mark.parametrize(
    ("http", "problem"),
    [
        ('auth_token: ""', "http: auth_token: is empty"),
        (
            'auth_token: "two words-sentinel"',
            "http: auth_token: has a space, a line break or a control character in it",
        ),
        ("basic_auth: {username: ops}", "http: basic_auth.password: required key is missing"),
        (
            "basic_auth: {username: 'a:b', password: pw}",
            "http: basic_auth.username: must be a word without ':', spaces or control characters",
        ),
        ("refresh: 0s", "http: refresh: must be between 1s and 1d"),
        ("auth: x", "http: auth: unknown key"),
    ],
)
def test_auth_key_problems_are_one_line_without_the_value(
    tmp_path: Path, http: str, problem: str
) -> None:
    text = f"providers:\n  p: {{type: browser7, api_key: k}}\nhttp:\n  {http}\n"
    [line] = problems_of(tmp_path, text)
    assert line.startswith(f"{tmp_path / 'config.yaml'}: {problem}"), line
    assert "sentinel" not in line
