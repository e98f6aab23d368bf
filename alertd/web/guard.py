"""What one untrusted client may cost the listener (issue 8), on top of aiohttp.

aiohttp parses HTTP and closes a connection that sends no complete request within its
keep-alive timeout (a silent client, a header dribbler, an idle keep-alive one). What it
does not do is done here:

- `GuardedSite` accepts connections itself. asyncio's accept loop, out of descriptors
  (EMFILE), retries up to its backlog times per wakeup, each failure logged: 100% CPU and
  thousands of log lines a second (measured). This one caps open connections (the excess
  answered 503 and closed at once, costing a descriptor for a moment only), paces accepts,
  and waits a second when descriptors run out; what it refuses goes to `report`.
- `guard_middlewares` answer any method but GET and HEAD with 405, pace requests (the excess
  waits its turn) so that clients never take more than a bounded share of the event loop,
  and give a client `write_timeout` seconds to take its answer before it is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

ACCEPT_RETRY_SECONDS = 1.0  # out of descriptors: wait this long before accepting again
Report = Callable[[str, str], None]  # (what happened, detail)
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Limits:
    """What the listener's clients may cost, all together and one by one."""

    max_connections: int = 32  # beyond it, 503 and closed at once
    request_timeout: float = 5.0  # a request must arrive within it (aiohttp's keep-alive)
    write_timeout: float = 10.0  # and its answer be taken by the client within it
    max_line: int = 8 * 1024  # request line, and each header line
    max_headers: int = 100
    requests_per_second: float = 50.0  # handled at most; the excess waits its turn
    accepts_per_second: float = 200.0  # accepted at most; the excess waits in the kernel

    def runner(self, app: web.Application, shutdown_timeout: float) -> web.AppRunner:
        """An AppRunner for `app` with aiohttp's own per-connection limits set from these."""
        return web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=shutdown_timeout,
            keepalive_timeout=self.request_timeout,
            max_line_size=self.max_line,
            max_field_size=self.max_line,
            max_headers=self.max_headers,
        )


class Pace:
    """At most `rate` passages per second, in order of arrival; the others wait."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic):
        self._interval = 1 / rate if rate else 0.0
        self._clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


def json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def application(limits: Limits, inner: Sequence[Middleware] = ()) -> web.Application:
    """An app behind the guard's middlewares, then `inner` ones (routes are the caller's)."""
    return web.Application(middlewares=[*guard_middlewares(limits), *inner])


def guard_middlewares(limits: Limits) -> list[Middleware]:
    """Outermost first: the bounded write, the method check, the pace."""
    requests = Pace(limits.requests_per_second)
    allow = ", ".join(sorted(METHODS))

    @web.middleware
    async def bounded_write(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sends the answer here, within `write_timeout`: a client that does not read it
        loses its connection instead of holding a handler for ever."""
        response = await handler(request)
        try:
            async with asyncio.timeout(limits.write_timeout):
                await response.prepare(request)
                await response.write_eof()
        except TimeoutError:
            if request.transport is not None:
                request.transport.abort()
        return response

    @web.middleware
    async def methods(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in METHODS:
            return json_error(405, f"method {request.method[:16]} not allowed", Allow=allow)
        return await handler(request)

    @web.middleware
    async def paced(request: web.Request, handler: Handler) -> web.StreamResponse:
        await requests.wait()
        return await handler(request)

    return [bounded_write, methods, paced]


class GuardedSite(web.BaseSite):
    """An aiohttp site on an already bound socket, with its own accept loop (see above)."""

    __slots__ = ("_accepting", "_accepts", "_busy", "_limits", "_report", "_sock")

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, limits: Limits, report: Report
    ) -> None:
        super().__init__(runner)
        self._sock = sock
        self._limits = limits
        self._report = report
        self._accepts = Pace(limits.accepts_per_second)
        self._accepting: asyncio.Task[None] | None = None
        body = json.dumps({"error": "too many connections"}).encode()
        self._busy = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def connections(self) -> int:
        server = self._runner.server
        return len(server.connections) if server is not None else 0

    async def start(self) -> None:
        await super().start()
        self._accepting = asyncio.create_task(self._accept_loop())

    async def stop(self) -> None:
        """Stops accepting; the runner's cleanup closes the open connections."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        self._sock.close()
        await super().stop()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        cap = self._limits.max_connections
        while True:
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                self._report("accept_failed", os.strerror(exc.errno or 0))
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            if self.connections >= cap:
                self._turn_away(conn)
                self._report("connection_refused", f"{cap} connections open")
            else:
                await self._serve(conn)
            await self._accepts.wait()

    async def _serve(self, conn: socket.socket) -> None:
        server = self._runner.server
        assert server is not None
        try:
            await asyncio.get_running_loop().connect_accepted_socket(server, conn)
        except OSError:
            conn.close()

    def _turn_away(self, conn: socket.socket) -> None:
        """503 and close, without waiting: what the client already sent is read first (if
        it is there), so that the close does not reset the connection before the 503."""
        with contextlib.suppress(OSError):
            conn.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                conn.recv(65536)
            conn.send(self._busy)
            conn.shutdown(socket.SHUT_WR)
        conn.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (raising OSError as `socket` does: the port may be taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=128, reuse_port=False)
    sock.setblocking(False)
    return sock


class Listener:
    """A running guarded server; `close()` stops it (open connections get the runner's
    shutdown timeout to finish)."""

    def __init__(self, runner: web.AppRunner, site: GuardedSite) -> None:
        self.runner = runner
        self.site = site

    @property
    def port(self) -> int:
        return self.site.port

    @property
    def connections(self) -> int:
        return self.site.connections

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(
    app: web.Application,
    sock: socket.socket,
    limits: Limits,
    report: Report,
    shutdown_timeout: float = 1.0,
) -> Listener:
    """Serves `app` (made by `application()`) on the bound `sock`, at once."""
    runner = limits.runner(app, shutdown_timeout)
    await runner.setup()
    site = GuardedSite(runner, sock, limits, report)
    await site.start()
    return Listener(runner, site)
