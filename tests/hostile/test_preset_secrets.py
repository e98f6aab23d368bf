"""Keys that travel in a JSON body, a query string or HTTP Basic credentials (issue 12) stay
secrets: `alertd run`, `check` and `validate` run as subprocesses at debug level against a
real loopback server, and no sentinel appears in any output, although each did reach the
server (checked) and the servers answer with errors that echo them back, as SerpApi's
account answer and some captcha services' error texts do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_alertd
from support.daemon import daemons, write_config
from support.http_stub import HttpStub, Reply, serving

BODY_KEY = "SENTINEL-BODY-KEY-19af"
QUERY_KEY = "SENTINEL-QUERY-KEY-2b7c"
BASIC_USER = "ACSENTINELUSER3d8e"
BASIC_PASSWORD = "SENTINEL-BASIC-PW-4e9f"
PLIVO_USER = "MASENTINELUSER5f0a"
PLIVO_PASSWORD = "SENTINEL-PLIVO-PW-6a1b"
SENTINELS = (BODY_KEY, QUERY_KEY, BASIC_USER, BASIC_PASSWORD, PLIVO_USER, PLIVO_PASSWORD)

CAPSOLVER = "/body/getBalance"
SERPAPI = "/query/account.json"
TWILIO = f"/basic/2010-04-01/Accounts/{BASIC_USER}/Balance.json"
PLIVO = f"/userpw/v1/Account/{PLIVO_USER}/"


def providers(url: str) -> dict[str, dict[str, Any]]:
    """One account per place a key can go; each preset's three lines and the stub's URL."""
    return {
        "captcha": {"type": "capsolver", "api_key": BODY_KEY, "base_url": url + "/body"},
        "search": {"type": "serpapi", "api_key": QUERY_KEY, "base_url": url + "/query"},
        "sms": {
            "type": "twilio",
            "api_key": f"{BASIC_USER}:{BASIC_PASSWORD}",
            "base_url": url + "/basic",
        },
        "voice": {
            "type": "plivo",
            "user": PLIVO_USER,
            "password": PLIVO_PASSWORD,
            "base_url": url + "/userpw",
        },
    }


def echoing_errors(server: HttpStub) -> None:
    """Every provider fails, and the failures quote the credentials they were sent."""
    error = {"errorId": 1, "errorCode": "ERROR_KEY", "errorDescription": f"bad key {BODY_KEY}"}
    server.answer(CAPSOLVER, Reply.json(error))
    server.answer(SERPAPI, Reply.json({"error": f"Invalid API key {QUERY_KEY}"}, status=401))
    sid = {"account_sid": f"{BASIC_USER}:{BASIC_PASSWORD}", "balance": None, "currency": None}
    server.answer(TWILIO, Reply.json(sid))
    server.answer(PLIVO, Reply.json({"error": f"auth {PLIVO_USER}:{PLIVO_PASSWORD}"}, status=403))


def healthy(server: HttpStub) -> None:
    """Documented answers; SerpApi's echoes the key it was given."""
    server.answer(
        CAPSOLVER, Reply.json({"errorId": 0, "balance": 12.5, "packages": [{"token": BODY_KEY}]})
    )
    server.answer(
        SERPAPI,
        Reply.json(
            {"api_key": QUERY_KEY, "total_searches_left": 5958, "searches_per_month": 30000}
        ),
    )
    server.answer(
        TWILIO, Reply.json({"account_sid": BASIC_USER, "balance": "0.05", "currency": "USD"})
    )
    server.answer(PLIVO, Reply.json({"auth_id": PLIVO_USER, "cash_credits": "1.80900"}))


def assert_no_sentinel(*outputs: str) -> None:
    for output in outputs:
        for sentinel in SENTINELS:
            assert sentinel not in output
            assert sentinel.lower() not in output.lower()


def assert_each_key_was_sent(server: HttpStub) -> None:
    """In the JSON body, the query, and the Basic header: the absence above means something."""
    basic = {
        base64.b64encode(f"{user}:{password}".encode()).decode()
        for user, password in ((BASIC_USER, BASIC_PASSWORD), (PLIVO_USER, PLIVO_PASSWORD))
    }
    seen = server.requests
    assert any(r.route == CAPSOLVER and r.json() == {"clientKey": BODY_KEY} for r in seen)
    assert any(r.route == SERPAPI and r.path.endswith(f"?api_key={QUERY_KEY}") for r in seen)
    sent = {r.headers.get("authorization", "").removeprefix("Basic ") for r in seen}
    assert basic <= sent


@pytest.fixture
def provider_server() -> Iterator[HttpStub]:
    with serving() as server:
        yield server


@pytest.mark.parametrize("answers", [echoing_errors, healthy], ids=["echoing-errors", "healthy"])
def test_check_never_shows_a_body_query_or_basic_secret(
    provider_server: HttpStub, tmp_path: Path, answers: Any
) -> None:
    answers(provider_server)
    config = write_config(
        tmp_path / "config.yaml", providers(provider_server.url), {"ops": "json://127.0.0.1:9/h"}
    )
    for extra in ((), ("--json",)):
        result = run_alertd(
            "--log-level", "debug", "check", "-c", str(config), *extra, cwd=tmp_path, timeout=60
        )
        assert result.code in (0, 3), result
        assert "Traceback" not in result.output
        assert_no_sentinel(result.stdout, result.stderr)
    if answers is echoing_errors:  # the reasons are there, with the echoed keys masked
        rows = {row["provider"]: row["detail"] for row in json.loads(result.stdout)}
        assert rows["captcha"].startswith(
            "cannot check: provider reported failure: ERROR_KEY: bad key ***"
        )
        assert rows["search"] == "cannot check: credentials rejected (HTTP 401)"
        assert rows["voice"] == "cannot check: credentials rejected (HTTP 403)"
    assert_each_key_was_sent(provider_server)


def test_validate_never_prints_them(tmp_path: Path) -> None:
    valid = write_config(
        tmp_path / "valid.yaml", providers("http://127.0.0.1:9"), {"ops": "json://127.0.0.1:9/h"}
    )
    broken_providers = providers("http://127.0.0.1:9")
    for body in broken_providers.values():
        body["bogus"] = 1  # every provider has a problem: its line must not quote a key
    broken_providers["voice"]["password"] = [PLIVO_PASSWORD]  # a wrong type next to it
    broken = write_config(tmp_path / "broken.yaml", broken_providers, {})
    for path, code in ((valid, 0), (broken, 1)):
        for fmt in ("json", "console"):
            result = run_alertd(
                "--log-level",
                "debug",
                "--log-format",
                fmt,
                "validate",
                "-c",
                str(path),
                cwd=tmp_path,
            )
            assert result.code == code, result
            assert "Traceback" not in result.output
            assert_no_sentinel(result.stdout, result.stderr)
    assert "bogus: unknown key" in result.stderr


def test_the_daemon_never_logs_them(
    provider_server: HttpStub, webhook: HttpStub, tmp_path: Path
) -> None:
    """Failing polls (echoing errors), alerts about them, then healthy polls: at debug level."""
    echoing_errors(provider_server)
    config = write_config(
        tmp_path / "config.yaml",
        providers(provider_server.url),
        {"ops": webhook.apprise_url},
        {"failure_threshold": 1, "warning": 1, "interval": "1s"},
    )
    names = ["captcha", "search", "sms", "voice"]
    with daemons(tmp_path) as start:
        daemon = start(config, extra_args=["--log-level", "debug"])
        daemon.wait_for_polls(names, 2)
        healthy(provider_server)
        daemon.wait_for("poll", timeout=20, count=1, provider="sms")
        daemon.wait_for_polls(names, 4)
        daemon.assert_running()
    failed = {e["provider"]: e["error"] for e in daemon.events("poll_failed")}
    assert failed["captcha"] == "provider reported failure: ERROR_KEY: bad key ***"
    assert set(failed) == set(names)
    assert webhook.messages  # the alerts went out, and carry no key either
    assert_no_sentinel(daemon.stdout, daemon.stderr, json.dumps(webhook.messages))
    assert_each_key_was_sent(provider_server)
