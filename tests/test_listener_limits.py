"""The listener's shared /metrics render and its throttled log, as plain code (the limits on
clients are tested against the real daemon in tests/hostile/test_listener.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from structlog.testing import capture_logs

from alertd.observability.metrics import SharedRender
from alertd.web.listener import ThrottledLog


async def test_concurrent_scrapes_share_one_render_made_off_the_event_loop() -> None:
    threads: list[str] = []
    now = [100.0]

    def render() -> bytes:
        threads.append(threading.current_thread().name)
        return b"metrics %d" % len(threads)

    shared = SharedRender(render, max_age=1.0, clock=lambda: now[0])
    bodies = await asyncio.gather(*(shared.get() for _ in range(20)))
    assert bodies == [b"metrics 1"] * 20
    assert shared.renders == 1
    assert threads[0] != threading.current_thread().name  # a worker thread, not the loop's

    now[0] += 0.9
    assert await shared.get() == b"metrics 1"  # still fresh
    now[0] += 0.2
    assert await shared.get() == b"metrics 2"  # a second old: rendered again
    assert shared.renders == 2


async def test_a_failed_render_is_not_cached() -> None:
    calls = []

    def render() -> bytes:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return b"ok"

    shared = SharedRender(render)
    with pytest.raises(RuntimeError):
        await shared.get()
    assert await shared.get() == b"ok"


def test_throttled_log_says_each_kind_once_a_minute_with_a_count() -> None:
    now = [0.0]
    log = ThrottledLog(every=60, clock=lambda: now[0])
    with capture_logs() as logs:
        for _ in range(1000):
            log("accept_failed", "too many open files")
            now[0] += 0.01  # 1,000 failures in 10 s
        log("connection_refused", "32 connections open")
        now[0] = 61
        log("accept_failed", "too many open files")
    events = [(e["event"], e["occurrences"]) for e in logs]
    assert events == [
        ("listener_accept_failed", 1),
        ("listener_connection_refused", 1),
        ("listener_accept_failed", 1000),  # the 999 held back, and this one
    ]
