"""Hostile clients of the listener (issue 8): they must never take the daemon down.

alertd runs as a subprocess, as a user runs it, and the clients speak raw HTTP over TCP to
127.0.0.1, so these tests hold whatever server the listener is built on. What they assert is
what an operator would see: polls keep succeeding and alerts keep going out while
1,100 idle connections hit the listener under systemd's default 1,024-descriptor limit;
twenty scrapers pulling /metrics cause no false poll timeouts; slow, oversized and non-GET
requests are cut short; a taken port is one line and exit 1.
"""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from store.daemon_support import query
from support.daemon import (
    DaemonProcess,
    SimulatorThread,
    daemons,
    free_port,
    wait_until,
    write_config,
)
from support.http_stub import HttpStub, webhook_stub

from hostile.listener_support import (
    IdleFlood,
    cpu_seconds,
    exchange,
    get,
    highest_descriptor,
    log_lines,
    not_polls,
    open_descriptors,
    poll_counts,
    scrape_metrics,
    seconds_until_closed,
)

SYSTEMD_DEFAULT_NOFILE = 1024
# Measured before the fix: 1,375 false timeouts in 10 s (283 good polls of 2,500 due), the
# event loop rendering /metrics (277 KB) for one scraper after another.
SCRAPED_PROVIDERS = 500
SCRAPED_INTERVAL = 2
HEADER_DEADLINE = 12.0  # seconds a dribbling or silent client may hold a connection, at most


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread() as thread:
        yield thread


# -- 1,100 idle connections under a 1,024-descriptor limit ---------------------------------------


def test_idle_connection_flood_under_1024_descriptors_does_not_stop_polls_or_alerts(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub
) -> None:
    sim.account("wallet", "browser7", 100)
    sim.account("credits", "lobstr", 8000)
    sim.account("captcha", "decaptcha", 50)
    names = ["wallet", "credits", "captcha"]
    port = free_port()
    db = tmp_path / "alertd.db"
    config = write_config(
        tmp_path / "config.yaml",
        {
            "wallet": sim.provider("wallet", warning=20, critical=5),
            "credits": sim.provider("credits", warning="20%", critical=500),
            "captcha": sim.provider("captcha", warning=20, critical=5),
        },
        {"hook": webhook.apprise_url},
        http={"listen": f"127.0.0.1:{port}"},
        store=f"sqlite://{db}",
    )
    daemon = DaemonProcess(config, nofile=SYSTEMD_DEFAULT_NOFILE, workdir=tmp_path)
    try:
        daemon.start()
        daemon.wait_started(names)
        assert daemon.proc is not None
        pid = daemon.proc.pid
        idle_fds = open_descriptors(pid)
        polls_before = poll_counts(daemon)
        lines_before = len(log_lines(daemon))

        flood = IdleFlood(port, target=1100, duration=14)
        flood.start()
        peak_fds = idle_fds
        dropped_at = time.monotonic() + 3
        dropped = False
        while flood.is_alive():
            peak_fds = max(peak_fds, open_descriptors(pid))
            if not dropped and time.monotonic() >= dropped_at:
                sim.set("wallet", balance=3)  # critical: must be alerted during the flood
                dropped = True
            time.sleep(0.2)
        flood.join(timeout=10)
        daemon.assert_running()

        polls = poll_counts(daemon) - polls_before
        failed = poll_counts(daemon, "poll_failed")
        new_lines = log_lines(daemon)[lines_before:]
        other_lines = not_polls(new_lines)
        print(
            f"\nidle flood: {flood.opened} connections opened ({flood.peak_open} at once, "
            f"{flood.peak_held} connecting or open), "
            f"{flood.closed_by_server} closed by the server, {flood.connect_failures} refused; "
            f"descriptors {idle_fds} idle, {peak_fds} at peak; polls meanwhile {dict(polls)}, "
            f"failed {sum(failed.values())}; log lines {len(new_lines)} "
            f"({len(other_lines)} not polls)"
        )
        assert flood.peak_held >= 1100, "the flood never held its 1,100 sockets"
        assert flood.opened >= 1100, "fewer than 1,100 connections were made"
        # descriptors bounded: the listener holds a few dozen connections, not 1,100
        assert peak_fds <= idle_fds + 100, f"{peak_fds} descriptors (idle: {idle_fds})"
        # polling went on: ~14 s at 1 s intervals, every poll a success
        assert all(polls[name] >= 8 for name in names), polls
        assert sum(failed.values()) == 0, failed
        # the balance drop was alerted, the state file written
        critical = wait_until(
            lambda: [m for m in webhook.about("wallet") if m["type"] == "failure"],
            10,
            lambda: f"a critical alert for wallet: {webhook.messages}\n{daemon.tail()}",
        )
        assert critical
        assert daemon.events("store_write_failed") == []
        balance = "SELECT severity FROM checks WHERE provider = 'wallet' AND check_name = 'balance'"
        saved = wait_until(
            lambda: query(db, balance) == [("critical",)],
            10,
            lambda: f"the store to record wallet's critical: {query(db, balance)}",
        )
        assert saved
        # and the log stayed readable: a few lines beyond the polls, not thousands
        assert len(other_lines) <= 20, "\n".join(other_lines[:20])
        # once the flood is over, the listener answers again
        wait_until(lambda: get(port, "/healthz")[0] == 200, 15, "/healthz 200 after the flood")
    finally:
        daemon.close()


def test_running_out_of_descriptors_neither_spins_nor_floods_the_log(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub
) -> None:
    """EMFILE on accept, whatever its cause: here the daemon's soft limit is lowered, while
    it runs, to the descriptors it already holds, and clients keep connecting."""
    sim.account("wallet", "browser7", 100)
    port = free_port()
    config = write_config(
        tmp_path / "config.yaml",
        {"wallet": sim.provider("wallet", warning=20, critical=5)},
        {"hook": webhook.apprise_url},
        http={"listen": f"127.0.0.1:{port}"},
    )
    with daemons(tmp_path) as start:
        daemon = start(config)
        daemon.wait_started(["wallet"])
        assert daemon.proc is not None
        pid = daemon.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        lines_before = len(log_lines(daemon))
        cpu_before = cpu_seconds(pid)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (highest_descriptor(pid) + 1, hard))
        try:
            flood = IdleFlood(port, target=50, duration=6)
            flood.run()  # in this thread: 6 s of clients the daemon cannot accept
            cpu = cpu_seconds(pid) - cpu_before
            other_lines = not_polls(log_lines(daemon)[lines_before:])
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        daemon.assert_running()
        print(
            f"\nout of descriptors for 6 s: {cpu:.2f} s of CPU, {len(other_lines)} log lines "
            f"other than polls"
        )
        # asyncio's own accept loop retried ~1,000 times per error: 100% CPU, ~4,000 lines/s
        assert cpu < 3, f"{cpu:.2f} s of CPU in 6 s"
        assert len(other_lines) <= 10, "\n".join(other_lines[:10])
        assert daemon.events("listener_accept_failed"), "the exhaustion was not logged at all"
        # with descriptors back, the listener serves again
        wait_until(lambda: get(port, "/healthz")[0] == 200, 15, "/healthz 200 again")


# -- twenty scrapers pulling /metrics -----------------------------------------------------------


def test_twenty_metrics_scrapers_cause_no_false_poll_timeouts(
    tmp_path: Path, sim: SimulatorThread, webhook: HttpStub
) -> None:
    names = [f"acct{i:04d}" for i in range(SCRAPED_PROVIDERS)]
    for name in names:
        sim.account(name, "browser7", 100)
    port = free_port()
    config = write_config(
        tmp_path / "config.yaml",
        {name: sim.provider(name, warning=20, critical=5) for name in names},
        {"hook": webhook.apprise_url},
        # the simulator answers in a millisecond: any poll timing out in 1 s was starved
        {"timeout": "1s", "interval": f"{SCRAPED_INTERVAL}s"},
        http={"listen": f"127.0.0.1:{port}"},
    )
    with daemons(tmp_path, poll_timeout=30) as start:
        daemon = start(config)
        daemon.wait_for("started", timeout=30)
        wait_until(
            lambda: len(poll_counts(daemon)) == len(names),
            30,
            lambda: f"a first poll of every provider:\n{daemon.tail()}",
        )
        polls_before = sum(poll_counts(daemon).values())
        # Only what happens while the scrapers run counts: the first sweep of 500 providers
        # at once, before any scraper, is not theirs (on a loaded CI machine some of its
        # 1 s polls ran late).
        failed_before = len(daemon.events("poll_failed"))

        summary = scrape_metrics(port, clients=20, duration=10)
        daemon.assert_running()

        polls = sum(poll_counts(daemon).values()) - polls_before
        failed = daemon.events("poll_failed")[failed_before:]
        timeouts = [e for e in failed if "timed out" in str(e.get("error"))]
        print(
            f"\n20 scrapers x 10 s: /metrics answers {summary['statuses']}, "
            f"{summary['largest']} bytes each; polls {polls}, failed {len(failed)} "
            f"({len(timeouts)} timeouts)"
        )
        took = sorted(e["duration_ms"] for e in daemon.events("poll")[polls_before:])
        print(f"poll duration p50 {took[len(took) // 2]} ms, p99 {took[len(took) * 99 // 100]} ms")
        served = summary["statuses"].get("200", 0)
        assert served >= 20, summary  # the scrapers were served, not shut out
        assert summary["largest"] > 100_000, summary  # 500 providers' worth of metrics
        assert len(timeouts) == 0, timeouts[:5]
        assert len(failed) == 0, failed[:5]
        due = SCRAPED_PROVIDERS * 10 // SCRAPED_INTERVAL
        assert polls >= due * 0.8, f"{polls} polls in 10 s, {due} due"


# -- slow, silent, oversized and non-GET requests -----------------------------------------------


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProcess, int]]:
    """One daemon (one provider) whose listener the request-level tests share."""
    tmp_path = tmp_path_factory.mktemp("listener")
    with SimulatorThread() as sim, webhook_stub() as webhook:
        sim.account("wallet", "browser7", 100)
        port = free_port()
        config = write_config(
            tmp_path / "config.yaml",
            {"wallet": sim.provider("wallet", warning=20, critical=5)},
            {"hook": webhook.apprise_url},
            {"interval": "5s"},
            http={"listen": f"127.0.0.1:{port}"},
        )
        with daemons(tmp_path) as start:
            daemon = start(config)
            daemon.wait_started(["wallet"])
            yield daemon, port
            daemon.assert_running()


@pytest.mark.parametrize(
    "dribble",
    [b"", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200],
    ids=["silent", "header-dribble"],
)
def test_a_silent_or_dribbling_client_is_disconnected(
    listener: tuple[DaemonProcess, int], dribble: bytes
) -> None:
    _, port = listener
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        held = seconds_until_closed(sock, HEADER_DEADLINE + 3, dribble)
    print(f"\nclient {'dribbling' if dribble else 'silent'}: disconnected after {held:.1f} s")
    assert held < HEADER_DEADLINE, f"still connected after {held:.1f} s"
    assert get(port, "/healthz")[0] == 200  # and the listener still serves others


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz?" + b"x" * 16_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"y" * 32_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(300))
        + b"Host: 127.0.0.1\r\n\r\n",
    ],
    ids=["16KB-request-line", "32KB-header", "300-headers"],
)
def test_oversized_requests_are_refused(
    listener: tuple[DaemonProcess, int], request_bytes: bytes
) -> None:
    _, port = listener
    status, _, _ = exchange(port, request_bytes)
    assert status in (400, 414, 431), status
    assert get(port, "/healthz")[0] == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_methods_other_than_get_are_405(listener: tuple[DaemonProcess, int], method: str) -> None:
    _, port = listener
    body = b'{"a": 1}'
    request = (
        f"{method} /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    status, headers, _ = exchange(port, request)
    assert status == 405
    assert "GET" in headers.get("allow", ""), headers


def test_head_answers_without_a_body(listener: tuple[DaemonProcess, int]) -> None:
    _, port = listener
    status, headers, body = get(port, "/healthz", method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


# -- a taken port ---------------------------------------------------------------------------------


def test_a_taken_listen_port_is_one_line_and_exit_1(tmp_path: Path, webhook: HttpStub) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path / "config.yaml",
            {
                "wallet": {
                    "type": "browser7",
                    "api_key": "key-wallet",
                    "base_url": "http://127.0.0.1:9/wallet",
                    "warning": 20,
                }
            },
            {"hook": webhook.apprise_url},
            http={"listen": f"127.0.0.1:{port}"},
        )
        result = subprocess.run(
            [sys.executable, "-m", "alertd", "run", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
        )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    print(f"\ntaken port: exit {result.returncode}, stderr {lines}")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines == [f"http.listen 127.0.0.1:{port}: address already in use"]
    assert result.stdout == ""
