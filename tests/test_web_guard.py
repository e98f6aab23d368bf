"""The listener's guard on top of aiohttp, in process against real sockets on 127.0.0.1: the
connection cap answers 503, a client that does not read its answer is cut off and holds no
handler, requests are paced, any method but GET and HEAD is 405 whatever the path, and
malformed requests cost one log line a minute, not a traceback each.

(The same limits against `alertd run` as a user runs it: tests/hostile/test_listener.py.)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from alertd.web.guard import Limits, Listener, application, bind, serve
from alertd.web.listener import LIMITS, ThrottledLog, install_server_log_filter

BIG = b"x" * (16 * 1024 * 1024)  # more than loopback's socket buffers hold
Serve = Callable[[Limits], Awaitable[Listener]]


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def big(request: web.Request) -> web.Response:
    return web.Response(body=BIG)


@pytest.fixture
async def start() -> AsyncIterator[Serve]:
    listeners: list[Listener] = []
    reports: list[tuple[str, str]] = []

    async def start(limits: Limits) -> Listener:
        app = application(limits)
        app.router.add_get("/", hello)
        app.router.add_get("/big", big)
        listener = await serve(app, bind("127.0.0.1", 0), limits, lambda *r: reports.append(r), 0.2)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        await listener.close()


async def exchange(port: int, data: bytes, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """Sends `data`, reads the whole answer (the server closes after it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        raw = await asyncio.wait_for(reader.read(-1), timeout)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, body


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


async def test_connections_beyond_the_cap_get_a_503(start: Serve) -> None:
    listener = await start(Limits(max_connections=3))
    held = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(3)]
    await wait_for(lambda: listener.connections == 3)

    status, headers, body = await exchange(listener.port, get("/"))

    assert (status, headers["connection"], body) == (
        503,
        "close",
        b'{"error": "too many connections"}',
    )
    for _, writer in held:
        writer.close()
    await wait_for(lambda: listener.connections == 0)
    assert (await exchange(listener.port, get("/")))[0] == 200


async def test_a_client_that_does_not_read_its_answer_is_cut_off(start: Serve) -> None:
    listener = await start(Limits(write_timeout=0.5))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", listener.port))
    await asyncio.get_running_loop().sock_sendall(sock, get("/big"))
    await wait_for(lambda: listener.connections == 1)
    started = time.monotonic()

    await wait_for(lambda: listener.connections == 0, timeout=5)

    assert time.monotonic() - started < 3
    assert (await exchange(listener.port, get("/")))[0] == 200  # others are served meanwhile
    sock.close()


async def test_requests_are_paced(start: Serve) -> None:
    listener = await start(Limits(requests_per_second=20))
    started = time.monotonic()
    statuses = await asyncio.gather(*(exchange(listener.port, get("/")) for _ in range(11)))
    took = time.monotonic() - started
    assert [s for s, _, _ in statuses] == [200] * 11
    assert took >= 0.45, f"11 requests at 20/s took {took:.2f} s"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "TRACE"])
@pytest.mark.parametrize("path", ["/", "/nowhere"])
async def test_only_get_and_head(start: Serve, method: str, path: str) -> None:
    listener = await start(Limits())
    status, headers, body = await exchange(listener.port, get(path, method))
    assert (status, headers["allow"]) == (405, "GET, HEAD")
    assert body.startswith(b'{"error": "method ')


async def test_a_method_http_does_not_know_is_a_bad_request(start: Serve) -> None:
    listener = await start(Limits())
    assert (await exchange(listener.port, get("/", "BREW")))[0] == 400


async def test_head_has_the_length_and_no_body(start: Serve) -> None:
    listener = await start(Limits())
    status, headers, body = await exchange(listener.port, get("/", "HEAD"))
    assert (status, headers["content-length"], body) == (200, "5", b"")


async def test_malformed_requests_are_one_log_line_a_minute(start: Serve) -> None:
    listener = await start(LIMITS)
    now = [0.0]
    install_server_log_filter(ThrottledLog(clock=lambda: now[0]))
    with capture_logs() as logs:
        answers = [
            await exchange(listener.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n"),
            await exchange(listener.port, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
            await exchange(listener.port, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n"),
            # not HTTP at all (TLS to a plain port, say): aiohttp logs it at DEBUG only
            await exchange(listener.port, b"\x16\x03\x01 hello\r\n\r\n"),
        ]
        now[0] = 61
        await exchange(listener.port, b"GET / HTTP/1.1\r\nX: " + b"b" * 9000 + b"\r\n\r\n")
    assert [status for status, _, _ in answers] == [400, 400, 400, 400]
    assert [(e["event"], e["occurrences"]) for e in logs] == [
        ("listener_bad_request", 1),
        ("listener_bad_request", 3),
    ]
    assert all("Traceback" not in e["detail"] for e in logs)
    assert logging.getLogger("aiohttp.server").filters


async def wait_for(predicate: Callable[[], bool], timeout: float = 3) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
