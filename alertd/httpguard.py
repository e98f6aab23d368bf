"""The accept loop for untrusted clients (the daemon's listener; issue 8).

asyncio's own accept loop accepts whatever arrives and, out of descriptors (EMFILE),
retries up to its backlog times per wakeup, each failure logged: 100% CPU and thousands of
log lines a second (measured). This one caps connections (the excess answered 503 and
closed at once, costing a descriptor for a moment only), paces accepts and requests (the
excess waits its turn, connections in the kernel's queue), and waits a second when
descriptors run out; what it refuses goes to the caller's `report`, to log rate-limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import time
from collections.abc import Callable

from alertd.httpserver import Handler, Limits, Response, encode, serve_connection

ACCEPT_RETRY_SECONDS = 1.0  # out of descriptors: wait this long before accepting again
Report = Callable[[str, str], None]  # (what happened, detail)
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


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


class Listener:
    """A server for untrusted clients: its own accept loop, so that it can cap connections
    (the excess answered 503 and closed at once, costing a descriptor for a moment only)
    and wait out descriptor exhaustion (EMFILE) instead of retrying in a tight loop."""

    def __init__(self, sock: socket.socket, handler: Handler, limits: Limits, report: Report):
        self._sock = sock
        self._handler = handler
        self._limits = limits
        self._report = report
        self._connections: set[asyncio.Task[None]] = set()
        self._busy = encode(
            Response.json({"error": "too many connections"}, status=503), keep_alive=False
        )
        self._requests = Pace(limits.requests_per_second)
        self._accepts = Pace(limits.accepts_per_second)
        self._accepting = asyncio.create_task(self._accept_loop())

    @property
    def sockets(self) -> list[socket.socket]:
        return [self._sock]

    @property
    def connections(self) -> int:
        return len(self._connections)

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
            if cap is not None and len(self._connections) >= cap:
                self._turn_away(conn)
                self._report("connection_refused", f"{cap} connections open")
            else:
                task = asyncio.create_task(self._serve(conn))
                self._connections.add(task)
                task.add_done_callback(self._connections.discard)
            await self._accepts.wait()

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

    async def _serve(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(
                sock=conn, limit=self._limits.stream_limit
            )
        except OSError:
            conn.close()
            return
        await serve_connection(self._handler, self._limits, reader, writer, self._requests.wait)

    def close(self) -> None:
        """Stops accepting and drops the open connections."""
        self._accepting.cancel()
        self._sock.close()
        for task in list(self._connections):
            task.cancel()


async def listen(
    handler: Handler, host: str, port: int, limits: Limits, report: Report
) -> Listener:
    """Binds (raising OSError as `socket` does: the port may be taken) and starts serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=128, reuse_port=False)
    sock.setblocking(False)
    return Listener(sock, handler, limits, report)
