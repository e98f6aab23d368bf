"""Hostile providers (issue 8): balance APIs that answer with decompression bombs, codings
nobody asked for, a Retry-After of a day, a self-signed certificate, digits of another script,
and error text that tries to forge rows of `alertd check`'s table.

`alertd run` and `alertd check` run as subprocesses against real servers on 127.0.0.1. Every
hostile provider authenticates with `SENTINEL`, in its auth header: it must reach the server
(checked) and never appear in any output.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support.cli import Result, run_alertd
from support.daemon import daemons, wait_until, write_config
from support.http_stub import HttpStub, Reply, serving

from hostile.providers_support import (
    gzip_bomb,
    https_url,
    peak_rss_kib,
    reset_peak,
    rss_kib,
    stacked_gzip_bomb,
    tls_serving,
)

SENTINEL = "SENTINEL-PROVIDER-KEY-5c1e"
BROWSER7 = "/v1/account/balance"
DECAPTCHA = "/api/balance"
HEALTHY_BODY = b'{"totalBalanceCents": 1700}'
ESC = "\x1b"
REFUSED = "response body over 1024 KiB refused"
# Peak RSS a bomb may add above the same daemon polling a normal body: "a few MB", with room
# for allocator noise on a shared machine. A single layer used to add 64+ MB, two layers 1 GiB.
RSS_ALLOWANCE_KIB = 30 * 1024


def browser7(base_url: str, **settings: Any) -> dict[str, Any]:
    return {"type": "browser7", "api_key": SENTINEL, "base_url": base_url, **settings}


def decaptcha(base_url: str) -> dict[str, Any]:
    return {"type": "decaptcha", "api_key": SENTINEL, "base_url": base_url}


def assert_no_sentinel(*outputs: str) -> None:
    for output in outputs:
        assert SENTINEL not in output


def assert_sentinel_was_sent(server: HttpStub, header: str) -> None:
    """The secret did travel (so its absence from the output means something)."""
    assert any(SENTINEL in seen.headers.get(header, "") for seen in server.requests)


@pytest.fixture
def provider_server() -> Iterator[HttpStub]:
    with serving() as server:
        yield server


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["timestamp"])).timestamp()


# -- decompression bombs ----------------------------------------------------------------------

BOMBS = {
    "gzip-of-gzip": (
        "gzip, gzip",
        stacked_gzip_bomb,
        "stacked content encodings refused (gzip, gzip)",
    ),
    "single-gzip": ("gzip", gzip_bomb, REFUSED),
}


@pytest.mark.parametrize("bomb", BOMBS)
def test_decompression_bomb_costs_no_memory_and_no_one_elses_poll(
    bomb: str, provider_server: HttpStub, webhook: HttpStub, tmp_path: Path
) -> None:
    coding, build, reason = BOMBS[bomb]
    body = build()
    assert len(body) < 1024 * 1024  # small on the wire: only decoding makes it big
    provider_server.answer("/healthy" + BROWSER7, Reply(body=HEALTHY_BODY))
    provider_server.answer("/hostile" + BROWSER7, Reply(body=HEALTHY_BODY))
    config = write_config(
        tmp_path / "config.yaml",
        {
            "healthy": browser7(provider_server.url + "/healthy"),
            "hostile": browser7(provider_server.url + "/hostile"),
        },
        {"ops": webhook.apprise_url},
        {"failure_threshold": 100},
    )
    with daemons(tmp_path) as start:
        daemon = start(config)
        daemon.wait_started(["healthy", "hostile"])
        daemon.wait_for_polls(["healthy", "hostile"], 3)  # warm: every code path has run once
        assert daemon.proc is not None
        pid = daemon.proc.pid
        reset_peak(pid)
        daemon.wait_for_polls(["hostile"], 3)
        normal_peak = peak_rss_kib(pid)  # the peak of three normal polls

        reset_peak(pid)
        rss_before = rss_kib(pid)
        healthy_before = len(daemon.polls("healthy"))
        provider_server.answer(
            "/hostile" + BROWSER7,
            Reply(body=body, headers={"Content-Encoding": coding}, chunk_size=64 * 1024),
        )
        daemon.wait_for("poll_failed", timeout=30, count=4, provider="hostile")
        bomb_peak = peak_rss_kib(pid)
        healthy = daemon.polls("healthy")[healthy_before:]
        daemon.assert_running()

    failed = daemon.events("poll_failed", provider="hostile")
    print(
        f"{bomb}: RSS before {rss_before} KiB, peak normal {normal_peak} KiB, "
        f"peak under bomb {bomb_peak} KiB (+{bomb_peak - normal_peak} KiB); "
        f"healthy polls meanwhile {len(healthy)}, gaps "
        f"{[round(at(b) - at(a), 2) for a, b in itertools.pairwise(healthy)]}"
    )
    assert {event["error"] for event in failed} == {reason}
    assert bomb_peak - normal_peak < RSS_ALLOWANCE_KIB
    # the healthy provider kept its 1 s interval while the bomb was served (4+ hostile polls)
    assert len(healthy) >= 3
    assert all(event["event"] == "poll" for event in healthy)
    gaps = [at(b) - at(a) for a, b in itertools.pairwise(healthy)]
    assert max(gaps) < 3
    assert_sentinel_was_sent(provider_server, "authorization")
    assert_no_sentinel(daemon.stdout, daemon.stderr)


# -- Retry-After --------------------------------------------------------------------------------


def test_a_day_of_retry_after_ends_in_cannot_check(
    provider_server: HttpStub, webhook: HttpStub, tmp_path: Path
) -> None:
    """Retry-After: 86399 used to defer every poll for a day with no alert (failures stuck at
    1). Deferral is capped at failure_threshold x interval (3 s here) and each deferred poll
    is a failed check, so "cannot check" is alerted after 3 polls and the API tried again."""
    provider_server.answer(
        "/limited" + BROWSER7, Reply(status=429, headers={"Retry-After": "86399"})
    )
    config = write_config(
        tmp_path / "config.yaml",
        {"limited": browser7(provider_server.url + "/limited")},
        {"ops": webhook.apprise_url},
        {"failure_threshold": 3},
    )
    with daemons(tmp_path) as start:
        daemon = start(config)
        daemon.wait_for("started", timeout=20)
        alert = wait_until(
            lambda: webhook.about("limited"), 20, "a 'cannot check' alert about limited"
        )
        daemon.wait_for_polls(["limited"], 3)
        asked = len([seen for seen in provider_server.requests if seen.path.startswith("/limited")])

    failed = daemon.events("poll_failed", provider="limited")
    print(
        f"requests: {asked}, failures: {[e['failures'] for e in failed]}, "
        f"alert: {alert[0]['title']!r}"
    )
    assert [e["failures"] for e in failed[:3]] == [1, 2, 3]
    assert failed[0]["error"] == "rate limited (HTTP 429, retry after 86399s)"
    assert failed[1]["error"].startswith("rate limited, next try at ")
    assert failed[2]["severity"] == "warning"
    assert alert[0]["title"].startswith("[WARNING] limited: cannot check balance: rate limited")
    assert asked >= 2  # tried again within seconds, not after a day
    assert_sentinel_was_sent(provider_server, "authorization")
    assert_no_sentinel(daemon.stdout, daemon.stderr)


# -- alertd check against every hostile provider at once ------------------------------------------

INJECTED = "\x1b[2J\x1b[31mboom\r\nfake-provider  $1,000,000  USD  OK  all good"


def _check(config: Path, *args: str) -> Result:
    return run_alertd("check", "-c", str(config), *args, cwd=config.parent, timeout=120)


@pytest.fixture
def hostile_config(provider_server: HttpStub, tmp_path: Path) -> Iterator[Path]:
    """One healthy provider and one of each hostile answer, the TLS one on its own server."""
    serve = provider_server.answer
    serve("/healthy" + BROWSER7, Reply(body=HEALTHY_BODY))
    serve(
        "/stacked" + BROWSER7,
        Reply(body=stacked_gzip_bomb(), headers={"Content-Encoding": "gzip, gzip"}),
    )
    serve("/bomb" + BROWSER7, Reply(body=gzip_bomb(), headers={"Content-Encoding": "gzip"}))
    serve(
        "/brotli" + BROWSER7, Reply(body=b"\x8b\x03\x80{}\x03", headers={"Content-Encoding": "br"})
    )
    serve("/limited" + BROWSER7, Reply(status=429, headers={"Retry-After": "8_6_3_9_9"}))
    failure = {"isSuccess": False, "statusCode": 500, "data": None, "errorMessage": INJECTED}
    serve("/inject" + DECAPTCHA, Reply(body=json.dumps(failure).encode()))
    arabic = {"isSuccess": True, "statusCode": 200, "data": "١٢٣", "errorMessage": None}
    serve("/arabic" + DECAPTCHA, Reply(body=json.dumps(arabic, ensure_ascii=False).encode()))
    wide = {"isSuccess": True, "statusCode": 200, "data": "1_000", "errorMessage": None}
    serve("/underscore" + DECAPTCHA, Reply(body=json.dumps(wide).encode()))
    with tls_serving(tmp_path) as tls:
        tls.answer(BROWSER7, Reply(body=HEALTHY_BODY))
        url = provider_server.url
        yield write_config(
            tmp_path / "config.yaml",
            {
                "healthy": browser7(url + "/healthy"),
                "stacked": browser7(url + "/stacked"),
                "bomb": browser7(url + "/bomb"),
                "brotli": browser7(url + "/brotli"),
                "limited": browser7(url + "/limited"),
                "inject": decaptcha(url + "/inject"),
                "arabic": decaptcha(url + "/arabic"),
                "underscore": decaptcha(url + "/underscore"),
                "selfsigned": browser7(https_url(tls)),
            },
            {"ops": "json://127.0.0.1:9/hook"},
        )


NAMES = [
    "healthy",
    "stacked",
    "bomb",
    "brotli",
    "limited",
    "inject",
    "arabic",
    "underscore",
    "selfsigned",
]
EXPECTED = {
    "healthy": "OK",
    "stacked": "cannot check: stacked content encodings refused (gzip, gzip)",
    "bomb": f"cannot check: {REFUSED}",
    "brotli": "cannot check: content encoding 'br' refused (alertd asks for gzip, deflate)",
    "limited": "cannot check: rate limited (HTTP 429)",
    "arabic": "cannot check: unexpected response: data is not a number",
    "underscore": "cannot check: unexpected response: data is not a number",
    "selfsigned": "cannot check: TLS handshake failed: certificate not trusted"
    " (self-signed certificate)",
}


def test_check_json_names_each_hostile_answer(
    hostile_config: Path, provider_server: HttpStub
) -> None:
    result = _check(hostile_config, "--json")
    rows = {row["provider"]: row for row in json.loads(result.stdout)}
    assert result.code == 3  # UNKNOWN: nothing here is critical
    assert {name: rows[name]["detail"] for name in EXPECTED if name != "healthy"} == {
        name: detail for name, detail in EXPECTED.items() if name != "healthy"
    }
    assert rows["healthy"]["status"] == "OK"
    assert rows["healthy"]["balance"] == "17"
    # the provider's text, on one line and escaped: no raw control character survives
    assert rows["inject"]["detail"].startswith("cannot check: provider reported failure: \\x1b[2J")
    assert not any(ch in rows["inject"]["detail"] for ch in "\x1b\r\n")
    assert_sentinel_was_sent(provider_server, "authorization")
    assert_sentinel_was_sent(provider_server, "x-api-key")
    assert_no_sentinel(result.stdout, result.stderr)


def test_check_table_cannot_be_forged_by_a_provider(hostile_config: Path) -> None:
    """An error message carrying ESC[2J and "\\nfake-provider  $1,000,000  USD  OK" used to
    clear the terminal and print a row of its own."""
    started = time.monotonic()
    result = _check(hostile_config)
    elapsed = time.monotonic() - started

    lines = result.stdout.splitlines()
    assert ESC not in result.stdout
    assert "\r" not in result.stdout
    assert len(lines) == 1 + len(NAMES)  # the header and one row per provider, nothing else
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(NAMES)
    assert not any(line.startswith("fake-provider") for line in lines)
    [inject] = [line for line in lines if line.startswith("inject ")]
    assert "\\x1b[2J\\x1b[31mboom\\x0d\\x0afake-provider  $1,000,000  USD  OK" in inject
    assert elapsed < 60  # two bombs in the lot: each refused, none decoded
    assert_no_sentinel(result.stdout, result.stderr)
