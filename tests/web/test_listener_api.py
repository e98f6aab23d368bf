"""The listener's endpoints against `alertd run` as a user runs it (one simulated account per
provider type): the schema of each, proper errors (404 for an unknown provider, 400 for a bad
`since`), the headers every answer carries, access control on and off, the warning for a
listener reachable beyond this host, and no secret in any answer or log line."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from decimal import Decimal
from typing import Any

import pytest
from e2e.fleet import api_key
from pydantic import SecretStr
from structlog.testing import capture_logs
from support.daemon import wait_until

from alertd.config.model import BasicAuth, HttpConfig
from alertd.demo.simulator import TYPES
from alertd.observability.health import Health
from alertd.observability.metrics import Metrics
from alertd.web import listener as listener_module
from alertd.web.page import PAGE_CSP
from alertd.web.routes import Sources
from web.conftest import (
    AUTH_TOKEN,
    BASIC_PASSWORD,
    BASIC_USER,
    HOOK_TOKEN,
    ServePage,
    Site,
)
from web.test_api_json import FORECAST_KEYS, PROVIDER_KEYS, STATUS_KEYS

pytestmark = pytest.mark.e2e

BEARER = {"Authorization": f"Bearer {AUTH_TOKEN}"}
BASIC = {
    "Authorization": "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
}
GUARDED = [
    "/",
    "/api/v1/status",
    "/api/v1/providers/lobstr/history",
    "/badge/lobstr.svg",
    "/metrics",
]
OPEN = ["/healthz", "/livez"]
EXPECTED_BALANCES = {
    "browser7": "$100.00 (10,000 renders)",
    "youcom": "$100.00",
    "decaptcha": "$100.00",
    "lobstr": "8,000 credits",
    "srtgen": "8,000 credits",
}


def test_status_api(serve_page: ServePage) -> None:
    site = serve_page()
    status, headers, body = site.get("/api/v1/status")
    assert (status, headers["content-type"]) == (200, "application/json; charset=utf-8")
    data = json.loads(body)
    assert set(data) == STATUS_KEYS
    assert data["totals"] == {"critical": 0, "warning": 0, "pending": 0, "ok": len(TYPES)}
    by_name = {p["name"]: p for p in data["providers"]}
    assert set(by_name) == set(TYPES)
    for name, provider in by_name.items():
        assert set(provider) == PROVIDER_KEYS
        assert provider["severity"] == "ok"
        assert provider["balance"]["text"] == EXPECTED_BALANCES.get(
            name, provider["balance"]["text"]
        )
        assert provider["last_poll"]["ok"] is True
        assert set(provider["forecast"]) == FORECAST_KEYS
        assert provider["forecast"]["outlook"] == "not enough history"
    assert by_name["lobstr"]["balance"]["share"] == pytest.approx(0.8)


def test_history_api(serve_page: ServePage) -> None:
    site = serve_page()
    site.daemon.wait_for_polls(["youcom"], 2)
    site.sim.set("youcom", balance=Decimal(150))  # a top-up of $50
    site.daemon.wait_for_polls(["youcom"], 2)
    data = site.json("/api/v1/providers/youcom/history?since=1h")
    assert data["provider"] == "youcom"
    amounts = [s["amount"] for s in data["samples"]]
    assert len(amounts) >= 4, amounts
    assert {Decimal(a) for a in amounts} == {Decimal(100), Decimal(150)}
    assert [s["unit"] for s in data["samples"]] == ["USD"] * len(amounts)
    assert [(e["kind"], Decimal(e["amount"]), Decimal(e["balance"])) for e in data["events"]] == [
        ("topup", Decimal(50), Decimal(150))
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", data["since"])
    assert data["thinned_every"] == 1


def test_badge_page_and_common_headers(serve_page: ServePage) -> None:
    site = serve_page()
    status, headers, body = site.get("/badge/browser7.svg")
    assert (status, headers["content-type"]) == (200, "image/svg+xml; charset=utf-8")
    assert b"browser7" in body
    assert b"$100.00 (10,000 renders)" in body
    status, headers, body = site.get("/")
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert headers["content-security-policy"] == PAGE_CSP
    assert (headers["x-content-type-options"], headers["cache-control"]) == ("nosniff", "no-store")
    assert headers["x-frame-options"] == "DENY"
    assert all(f'data-provider="{name}"'.encode() in body for name in TYPES)
    status, headers, _ = site.get("/api/v1/status")
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/v1/providers/nope/history", 404, "no provider 'nope'"),
        ("/badge/nope.svg", 404, "no provider 'nope'"),
        ("/api/v1/providers/%3Cscript%3E/history", 404, "no provider '<script>'"),
        ("/nowhere", 404, "not found"),
        (
            "/api/v1/providers/lobstr/history?since=yesterday",
            400,
            "since: 'yesterday' is not a duration such as 30s, 5m, 1h30m, 1d or whole seconds"
            " (or a time such as 2026-01-31T00:00:00Z)",
        ),
        ("/api/v1/providers/lobstr/history?since=900d", 400, "since: at most 400 days back"),
    ],
)
def test_errors_are_json_with_one_line(
    serve_page: ServePage, path: str, status: int, error: str
) -> None:
    site = serve_page()
    got, headers, body = site.get(path)
    assert (got, headers["content-type"]) == (status, "application/json; charset=utf-8")
    assert json.loads(body)["error"] == error


def test_access_control_on(serve_page: ServePage) -> None:
    site = serve_page(
        http={
            "auth_token": AUTH_TOKEN,
            "basic_auth": {"username": BASIC_USER, "password": BASIC_PASSWORD},
        }
    )
    for path in GUARDED:
        status, headers, body = site.get(path)
        assert (status, json.loads(body)) == (401, {"error": "authentication required"}), path
        assert headers["www-authenticate"] == (
            'Basic realm="alertd", charset="UTF-8", Bearer realm="alertd"'
        ), headers
        assert site.get(path, {"Authorization": "Bearer wrong"})[0] == 401
        assert site.get(path, BEARER)[0] == 200, path
        assert site.get(path, BASIC)[0] == 200, path
    for path in OPEN:  # a container HEALTHCHECK or a probe has no credentials
        assert site.get(path)[0] == 200, path
    assert site.get("/badge/nope.svg", BEARER)[0] == 404
    assert site.get("/badge/nope.svg")[0] == 401  # nothing is told without credentials
    failed = site.daemon.wait_for("listener_auth_failed")
    assert len(failed) == 1  # five wrong tries, one line: at most one a minute
    assert site.daemon.events("listener_unprotected") == []


def test_access_control_off_everything_is_open(serve_page: ServePage) -> None:
    site = serve_page()
    for path in [*GUARDED, *OPEN]:
        assert site.get(path)[0] == 200, path


def every_answer(site: Site, headers: dict[str, str]) -> list[str]:
    answers = []
    paths = [
        *GUARDED,
        *OPEN,
        *(f"/api/v1/providers/{name}/history?since=1d" for name in TYPES),
        *(f"/badge/{name}.svg" for name in TYPES),
        "/nowhere",
        "/api/v1/providers/nope/history",
    ]
    for path in paths:
        status, answer_headers, body = site.get(path, headers)
        answers.append(f"{path} {status} {answer_headers} {body.decode()}")
    return answers


def test_no_secret_in_any_answer_or_log(serve_page: ServePage) -> None:
    site = serve_page(http={"auth_token": AUTH_TOKEN})
    # a provider that echoes its key in an error message: the page must not repeat it
    site.sim.set(
        "decaptcha",
        body=json.dumps({"isSuccess": False, "errorMessage": f"key {api_key('decaptcha')} is bad"}),
    )
    site.daemon.wait_for_polls(["decaptcha"], 2)
    status = site.json("/api/v1/status", BEARER)
    decaptcha = next(p for p in status["providers"] if p["name"] == "decaptcha")
    assert decaptcha["last_poll"]["error"] == "provider reported failure: key *** is bad"
    answers = [*every_answer(site, BEARER), *every_answer(site, {})]
    secrets = [AUTH_TOKEN, HOOK_TOKEN, *(api_key(kind) for kind in TYPES)]
    leaks = [(s, a[:120]) for a in answers for s in secrets if s in a]
    assert leaks == []
    log = site.daemon.stderr
    assert [s for s in secrets if s in log] == []


def test_a_listener_beyond_loopback_without_credentials_warns_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In process, with the socket itself bound to 127.0.0.1 (tests listen on loopback
    only): what is judged is the configured address."""
    bound: list[tuple[str, int]] = []

    def loopback(host: str, port: int) -> socket.socket:
        bound.append((host, port))
        sock = socket.create_server(("127.0.0.1", 0))
        sock.setblocking(False)
        return sock

    monkeypatch.setattr(listener_module, "bind", loopback)
    open_http = HttpConfig(listen="0.0.0.0:9464")
    closed_http = HttpConfig(
        listen="[::]:9464", basic_auth=BasicAuth(username="u", password=SecretStr(BASIC_PASSWORD))
    )
    events = run_listeners([open_http, closed_http, HttpConfig(listen="127.0.0.1:9464")])
    assert bound == [("0.0.0.0", 9464), ("::", 9464), ("127.0.0.1", 9464)]
    assert [(e["event"], e["listen"]) for e in events if e["event"] == "listener_unprotected"] == [
        ("listener_unprotected", "0.0.0.0:9464")
    ]


def run_listeners(configs: list[HttpConfig]) -> list[MutableMapping[str, Any]]:
    async def start_each() -> None:
        for http in configs:
            assert http.listen is not None
            sources = Sources(lambda: Health(True, "ok"), Metrics(), http=http)
            listener = await listener_module.start_listener(http.listen, sources)
            await listener.close()

    with capture_logs() as events:
        asyncio.run(start_each())
    return events


def test_a_polling_daemon_answers_while_its_page_is_hammered(serve_page: ServePage) -> None:
    """Twenty clients pulling the page and the API at once: every answer is a proper one
    (200, or 503 past the connection cap), and polling goes on without a failure."""
    site = serve_page()
    before = {name: len(site.daemon.polls(name)) for name in TYPES}
    statuses = hammer(site.port, ["/", "/api/v1/status", "/badge/lobstr.svg"], clients=20)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.get(200, 0) >= 20, statuses
    wait_until(
        lambda: all(len(site.daemon.polls(n)) >= before[n] + 3 for n in TYPES),
        15,
        "three more polls of every provider",
    )
    assert site.daemon.events("poll_failed") == []


def hammer(port: int, paths: list[str], clients: int, seconds: float = 4) -> dict[int, int]:
    """`clients` threads GETting `paths` in turn for `seconds`; the count of each status."""
    counts: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(offset: int) -> None:
        index = offset
        while time.monotonic() < deadline:
            url = f"http://127.0.0.1:{port}{paths[index % len(paths)]}"
            index += 1
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = -1
            with lock:
                counts[status] = counts.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts
