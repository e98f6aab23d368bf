"""The HTTP listener (SPEC §5): `/healthz` says whether alertd works, `/metrics` what it saw.

`/healthz` (readiness) is 200 while the scheduler runs, every provider has had its first
poll attempt and none is stale beyond 3 intervals, 503 with a JSON reason otherwise.
`/livez` (liveness) is 200 while the scheduler runs. The first-poll and staleness rules are
tested on the real daemon (a subprocess with a slow, a failing or a hanging provider, and a
provider added by a reload) and on the pure `assess`; a stopped scheduler on `assess` and
on an in-process `Daemon`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.daemon import DaemonProcess, SimulatorThread, free_port, wait_until, write_config
from support.http_stub import HttpStub

from alertd.config.loader import load
from alertd.daemon import Daemon
from alertd.demo.simulator import Account, Simulator
from alertd.observability.health import STALE_INTERVALS, assess

Spawn = Callable[[Path], DaemonProcess]


def get(url: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of a GET, 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    status, body, content_type = get(f"http://127.0.0.1:{port}/healthz")
    assert content_type.startswith("application/json"), content_type
    return status, json.loads(body)


# -- /healthz on the running daemon -------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("failure", ["http-500", "hang"])
def test_healthz_turns_503_naming_a_stale_provider_and_recovers(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn, failure: str
) -> None:
    sim.account("steady", "browser7", 100)
    sim.account("flaky", "lobstr", 8000)
    port = free_port()
    config = write_config(
        tmp_path / "config.yaml",
        {
            "steady": sim.provider("steady", warning=20, critical=5),
            "flaky": sim.provider("flaky", warning="20%", critical=500),
        },
        {"hook": webhook.apprise_url},
        {"timeout": "1s"},
        http={"listen": f"127.0.0.1:{port}"},
    )
    daemon = spawn(config)
    daemon.wait_started(["steady", "flaky"])

    status, body = healthz(port)
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["stale_providers"] == []

    broke_at = time.monotonic()
    if failure == "hang":
        sim["flaky"].hang = True
    else:
        sim["flaky"].status = 500

    def unhealthy() -> tuple[int, dict[str, Any]] | None:
        answer = healthz(port)
        return answer if answer[0] == 503 else None

    status, body = wait_until(
        unhealthy,
        10,
        lambda: f"/healthz 503 ({healthz(port)}):\n{daemon.tail()}",
    )
    # not on the first failed poll: stale means no success for over 3 intervals (3 s), and
    # the last success came about one interval before the breakage (slack for a busy machine)
    assert time.monotonic() - broke_at > STALE_INTERVALS - 2
    assert body["status"] == "unhealthy"
    assert body["stale_providers"] == ["flaky"]
    assert "flaky" in body["reason"]
    assert "steady" not in body["reason"]
    daemon.assert_running()

    sim["flaky"].hang = False
    sim["flaky"].status = 200
    wait_until(lambda: healthz(port)[0] == 200, 10, lambda: f"recovery: {healthz(port)}")
    assert healthz(port)[1]["status"] == "ok"


# -- readiness: the first poll of every provider -------------------------------------------------


def _poll_listener(port: int, seconds: float) -> list[tuple[float, int, dict[str, Any], int]]:
    """(time, /healthz status, body, /livez status) every 0.1 s for `seconds`, from the
    first moment the listener answers."""
    seen: list[tuple[float, int, dict[str, Any], int]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, body = healthz(port)
            live, _, _ = get(f"http://127.0.0.1:{port}/livez")
        except OSError:  # not listening yet
            time.sleep(0.05)
            continue
        seen.append((time.monotonic(), status, body, live))
        if status == 200:
            break
        time.sleep(0.1)
    return seen


@pytest.mark.e2e
def test_healthz_is_not_ready_until_every_provider_had_its_first_poll(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    sim.account("fast", "browser7", 100)
    sim.account("down", "lobstr", 8000).status = 500  # a failed first poll counts as one
    sim.account("slow", "decaptcha", 50).delay = 4
    port = free_port()
    config = write_config(
        tmp_path / "config.yaml",
        {
            "fast": sim.provider("fast", warning=20, critical=5),
            "down": sim.provider("down", warning="20%", critical=500),
            "slow": sim.provider("slow", warning=20, critical=5, timeout="10s", interval="30s"),
        },
        {"hook": webhook.apprise_url},
        {"interval": "30s"},
        http={"listen": f"127.0.0.1:{port}"},
    )
    daemon = spawn(config)
    seen = _poll_listener(port, 20)
    assert seen, f"never answered\n{daemon.tail()}"
    assert seen[-1][1] == 200, f"never ready: {seen[-3:]}\n{daemon.tail()}"
    ready_at = seen[-1][0]
    waiting = [body for _, status, body, _ in seen if status == 503]
    # before: 200 from the first answer, with no balance known yet
    assert waiting, "ready before any poll"
    assert all(body["status"] == "starting" for body in waiting), waiting
    assert waiting[-1]["waiting_providers"] == ["slow"]
    assert waiting[-1]["reason"] == "waiting for the first poll of 1 provider(s): slow"
    assert all(live == 200 for _, _, _, live in seen)  # alive all along
    # ready only once the slow provider answered (~4 s), and no later than shortly after
    assert daemon.polls("slow"), daemon.tail()
    assert daemon.events("poll_failed", provider="down")
    assert ready_at - seen[0][0] > 2, seen
    assert healthz(port)[1]["status"] == "ok"

    # a provider added by a reload is waited for in the same way
    sim.account("late", "browser7", 100).delay = 3
    write_config(
        tmp_path / "config.yaml",
        {
            "fast": sim.provider("fast", warning=20, critical=5),
            "down": sim.provider("down", warning="20%", critical=500),
            "slow": sim.provider("slow", warning=20, critical=5, timeout="10s", interval="30s"),
            "late": sim.provider("late", warning=20, critical=5, timeout="10s"),
        },
        {"hook": webhook.apprise_url},
        {"interval": "30s"},
        http={"listen": f"127.0.0.1:{port}"},
    )
    daemon.send_signal(signal.SIGHUP)
    daemon.wait_for("reloaded")
    status, body = healthz(port)
    assert status == 503, body
    assert body["waiting_providers"] == ["late"], body
    wait_until(lambda: healthz(port)[0] == 200, 15, lambda: f"ready again: {healthz(port)}")
    assert daemon.polls("late"), daemon.tail()


# -- /metrics on the running daemon -------------------------------------------------------------


def _samples(text: str) -> dict[str, dict[str, Any]]:
    """{family: {"type": ..., "samples": [(name, labels, value), ...]}}."""
    return {
        family.name: {
            "type": family.type,
            "samples": [(s.name, dict(s.labels), s.value) for s in family.samples],
        }
        for family in text_string_to_metric_families(text)
    }


def _value(families: dict[str, dict[str, Any]], family: str, sample: str, **labels: str) -> float:
    found = [
        value
        for name, have, value in families[family]["samples"]
        if name == sample and all(have.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"{sample}{labels}: {families[family]['samples']}"
    return float(found[0])


def _has(families: dict[str, dict[str, Any]], family: str, **labels: str) -> bool:
    return any(
        all(have.get(k) == v for k, v in labels.items())
        for _, have, _ in families.get(family, {}).get("samples", [])
    )


@pytest.mark.e2e
def test_metrics_expose_balances_severities_counters_and_histograms(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub, spawn: Spawn
) -> None:
    sim.account("wallet", "browser7", "15.25")
    sim.account("credits", "lobstr", 8000)
    sim.account("broken", "decaptcha", 50).status = 500
    port = free_port()
    config = write_config(
        tmp_path / "config.yaml",
        {
            "wallet": sim.provider("wallet", warning=20, critical=5),
            "credits": sim.provider("credits", warning="20%", critical=500),
            "broken": sim.provider("broken", warning=20, critical=5),
        },
        {"hook": webhook.apprise_url},
        {"failure_threshold": 2},
        http={"listen": f"127.0.0.1:{port}"},
    )
    started = time.time()
    daemon = spawn(config)
    daemon.wait_started(["wallet", "credits", "broken"])
    daemon.wait_for("notification_sent", count=2)  # wallet's warning, broken's "cannot check"
    daemon.wait_for_polls(["wallet", "credits", "broken"], 1)

    status, body, content_type = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    m = _samples(body.decode())

    # balance per provider, in its unit; none for a provider never read
    assert m["alertd_balance"]["type"] == "gauge"
    assert _value(m, "alertd_balance", "alertd_balance", provider="wallet", unit="USD") == 15.25
    assert _value(m, "alertd_balance", "alertd_balance", provider="credits", unit="credits") == 8000
    assert _value(m, "alertd_balance", "alertd_balance", provider="wallet", type="browser7")
    assert not _has(m, "alertd_balance", provider="broken")

    # severity per check: 0 ok, 1 warning, 2 critical
    sev = "alertd_check_severity"
    assert _value(m, sev, sev, provider="wallet", check="balance") == 1
    assert _value(m, sev, sev, provider="credits", check="balance") == 0
    assert _value(m, sev, sev, provider="broken", check="fetch") == 1

    # last success: a recent Unix time, absent for a provider never read successfully
    last = "alertd_last_success_timestamp_seconds"
    for provider in ("wallet", "credits"):
        assert started - 1 <= _value(m, last, last, provider=provider) <= time.time() + 1
    assert not _has(m, last, provider="broken")

    # counters
    assert m["alertd_polls"]["type"] == "counter"
    polls = "alertd_polls_total"
    assert _value(m, "alertd_polls", polls, provider="wallet", outcome="ok") >= 2
    assert _value(m, "alertd_polls", polls, provider="broken", outcome="error") >= 2
    assert not _has(m, "alertd_polls", provider="wallet", outcome="error")
    sent = "alertd_notifications_total"
    assert (
        _value(m, "alertd_notifications", sent, notifier="hook", reason="first", outcome="sent")
        == 2
    )
    assert not _has(m, "alertd_notifications", outcome="failed")

    # histograms: poll durations by provider type, delivery durations by notifier
    assert m["alertd_poll_duration_seconds"]["type"] == "histogram"
    hist = "alertd_poll_duration_seconds"
    count = _value(m, hist, f"{hist}_count", type="browser7")
    assert count >= 2
    assert _value(m, hist, f"{hist}_bucket", type="browser7", le="+Inf") == count
    assert 0 < _value(m, hist, f"{hist}_sum", type="browser7") < count * 2
    assert {labels["type"] for _, labels, _ in m[hist]["samples"]} == {
        "browser7",
        "lobstr",
        "decaptcha",
    }
    notified = "alertd_notification_duration_seconds"
    assert m[notified]["type"] == "histogram"
    assert _value(m, notified, f"{notified}_count", notifier="hook") == 2

    assert _value(m, "alertd_scheduler_running", "alertd_scheduler_running") == 1
    assert _value(m, "alertd_providers", "alertd_providers") == 3

    status, body, _ = get(f"http://127.0.0.1:{port}/nope")
    assert status == 404


# -- the pure verdict ---------------------------------------------------------------------------

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_assess_stopped_scheduler_is_unhealthy_whatever_the_providers() -> None:
    verdict = assess(False, {"a": MINUTE}, {"a": NOW}, {"a": NOW}, NOW)
    assert not verdict.ok
    assert verdict.reason == "scheduler is not running"
    assert verdict.body()["status"] == "unhealthy"
    assert verdict.body()["reason"] == "scheduler is not running"


def test_assess_running_and_fresh_is_ok() -> None:
    verdict = assess(True, {"a": MINUTE, "b": MINUTE}, {"a": NOW, "b": NOW - MINUTE}, {}, NOW)
    assert verdict.ok
    assert verdict.body() == {
        "status": "ok",
        "reason": verdict.reason,
        "stale_providers": [],
        "waiting_providers": [],
    }


@pytest.mark.parametrize(
    ("age", "stale"),
    [(3 * MINUTE, False), (3 * MINUTE + timedelta(seconds=1), True), (10 * MINUTE, True)],
)
def test_assess_stale_is_beyond_three_intervals(age: timedelta, stale: bool) -> None:
    verdict = assess(True, {"a": MINUTE}, {"a": NOW - age}, {"a": NOW - timedelta(days=1)}, NOW)
    assert verdict.ok is not stale
    if stale:
        assert verdict.stale == ("a",)
        assert "a" in verdict.reason
        assert verdict.body()["stale_providers"] == ["a"]


def test_assess_never_polled_provider_counts_from_when_it_was_added() -> None:
    intervals = {"new": MINUTE, "old": MINUTE}
    watched = {"new": NOW - 2 * MINUTE, "old": NOW - 4 * MINUTE}
    verdict = assess(True, intervals, {}, watched, NOW)
    assert verdict.stale == ("old",)


def test_assess_uses_each_providers_own_interval_and_names_every_stale_one() -> None:
    intervals = {"hourly": timedelta(hours=1), "fast": MINUTE, "fast2": MINUTE}
    last = {n: NOW - 10 * MINUTE for n in intervals}
    verdict = assess(True, intervals, last, {}, NOW)
    assert verdict.stale == ("fast", "fast2")
    assert "fast, fast2" in verdict.reason
    assert "hourly" not in verdict.reason


def test_assess_shortens_a_long_list_of_stale_providers() -> None:
    intervals = {f"p{i:02d}": MINUTE for i in range(25)}
    verdict = assess(True, intervals, {}, {n: NOW - timedelta(hours=1) for n in intervals}, NOW)
    assert len(verdict.stale) == 25
    assert "and 15 more" in verdict.reason
    assert len(verdict.body()["stale_providers"]) == 25  # type: ignore[arg-type]


def test_assess_waits_for_the_first_poll_of_each_provider() -> None:
    intervals = {"a": MINUTE, "b": MINUTE, "c": MINUTE}
    verdict = assess(True, intervals, {"a": NOW}, dict.fromkeys(intervals, NOW), NOW, ["c", "b"])
    assert not verdict.ok
    assert verdict.live
    assert verdict.waiting == ("b", "c")
    assert verdict.reason == "waiting for the first poll of 2 provider(s): b, c"
    assert verdict.body()["status"] == "starting"
    assert verdict.body()["waiting_providers"] == ["b", "c"]
    assert verdict.liveness() == {"status": "alive", "reason": "scheduler running"}


def test_assess_ignores_waiting_names_no_longer_configured() -> None:
    verdict = assess(True, {"a": MINUTE}, {"a": NOW}, {"a": NOW}, NOW, ["gone"])
    assert verdict.ok
    assert verdict.waiting == ()


def test_assess_stale_outranks_waiting() -> None:
    """A provider whose first poll has not ended after 3 intervals is stale: unhealthy."""
    intervals = {"a": MINUTE, "b": MINUTE}
    watched = {"a": NOW - 4 * MINUTE, "b": NOW}
    verdict = assess(True, intervals, {}, watched, NOW, ["a", "b"])
    assert verdict.stale == ("a",)
    assert verdict.body()["status"] == "unhealthy"


def test_assess_stopped_scheduler_is_not_live() -> None:
    verdict = assess(False, {"a": MINUTE}, {}, {}, NOW, ["a"])
    assert not verdict.live
    assert verdict.liveness() == {"status": "stopped", "reason": "scheduler is not running"}


# -- Daemon.health() with a stopped scheduler, in process ---------------------------------------


def _inprocess_config(tmp_path: Path, sim: Simulator, webhook: HttpStub, port: int) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "wallet": {
                "type": "browser7",
                "api_key": "key-wallet",
                "base_url": sim.base_url("wallet"),
                "warning": 20,
                "critical": 5,
            }
        },
        {"hook": webhook.apprise_url},
        http={"listen": f"127.0.0.1:{port}"},
    )


def test_daemon_health_before_it_runs_is_unhealthy(tmp_path: Path, webhook: HttpStub) -> None:
    daemon = Daemon(load(_inprocess_config(tmp_path, Simulator(), webhook, free_port())))
    verdict = daemon.health()
    assert not verdict.ok
    assert verdict.reason == "scheduler is not running"


async def test_daemon_health_follows_the_scheduler(tmp_path: Path, webhook: HttpStub) -> None:
    sim = Simulator([Account("wallet", "browser7", "key-wallet", Decimal(100))])
    await sim.start()
    port = free_port()
    daemon = Daemon(load(_inprocess_config(tmp_path, sim, webhook, port)))
    running = asyncio.create_task(daemon.run())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def until(predicate: Callable[[], bool], what: str) -> None:
                for _ in range(200):
                    if predicate():
                        return
                    assert not running.done(), running
                    await asyncio.sleep(0.05)
                raise AssertionError(f"timed out waiting for {what}")

            await until(
                lambda: (
                    daemon.engine is not None
                    and daemon.engine.watches["wallet"].state.reading is not None
                ),
                "the first poll",
            )
            assert daemon.health().ok
            for _ in range(100):  # the listener starts right after the scheduler
                try:
                    response = await client.get("/healthz")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert response.status_code == 200
            assert response.json()["status"] == "ok"

            assert daemon.scheduler is not None
            daemon.scheduler.pause()
            verdict = daemon.health()
            assert not verdict.ok
            assert verdict.reason == "scheduler is not running"
            response = await client.get("/healthz")
            assert response.status_code == 503
            assert response.json() == {
                "status": "unhealthy",
                "reason": "scheduler is not running",
                "stale_providers": [],
                "waiting_providers": [],
            }
            response = await client.get("/livez")
            assert response.status_code == 503
            assert response.json()["status"] == "stopped"

            daemon.scheduler.resume()
            assert daemon.health().ok
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/livez")).status_code == 200

        daemon.stopping.set()  # what SIGTERM does: unhealthy from that moment on
        assert daemon.health().reason == "scheduler is not running"
        assert await asyncio.wait_for(running, 15) == 0
        assert not daemon.health().ok
    finally:
        if not running.done():
            daemon.stopping.set()
            await asyncio.wait_for(running, 15)
        await sim.stop()
