"""The optional HTTP listener (SPEC §5, §8), off unless `http.listen` is set: aiohttp in the
daemon's own event loop, behind `alertd.web.guard`.

Its clients are not trusted (issue 8): a handful of connections at a time, each given a few
seconds to send its request and to take its answer, GET and HEAD only, requests paced, and
/metrics rendered at most once a second off the event loop, so that no client, nor many, can
take descriptors or event-loop time from polling. What it refuses is logged at most once a
minute per kind, with a count; so are the malformed requests aiohttp turns away, which it
would otherwise log one traceback each.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from alertd.config.types import parse_listen
from alertd.errors import ConfigError
from alertd.observability import logging as logs
from alertd.text import printable
from alertd.web.guard import Limits, Listener, application, bind, serve
from alertd.web.routes import Sources, add_routes

LIMITS = Limits(
    max_connections=32,  # a healthcheck and a few Prometheus servers need a handful
    request_timeout=5.0,
    write_timeout=10.0,
    max_line=8 * 1024,
    max_headers=100,
    # ~1 ms of event loop each at most (a cached /metrics of 465 KB): under 10% of it.
    requests_per_second=50,
    accepts_per_second=200,
)
LOG_EVERY_SECONDS = 60.0
SHUTDOWN_SECONDS = 1.0  # open connections get this long to finish at stop


class ListenError(ConfigError):
    """`http.listen` cannot be bound (taken, not a local address, privileged port): one
    line naming the address, exit 1, as for a config problem."""


class ThrottledLog:
    """Logs each kind of listener trouble at most once per `every` seconds, counting the
    occurrences in between: out of descriptors, asyncio's own accept loop logged 54,271
    lines in 14 s (measured)."""

    def __init__(
        self, every: float = LOG_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def __call__(self, kind: str, detail: str) -> None:
        self._count[kind] = self._count.get(kind, 0) + 1
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            return
        self._last[kind] = now
        count = self._count.pop(kind)
        logs.get_logger().warning(
            f"listener_{kind}", detail=detail, occurrences=count, per_seconds=self.every
        )


class _ServerErrors(logging.Filter):
    """aiohttp logs each request it cannot parse, or that broke a handler, at ERROR with a
    traceback: a client could fill the log. They go to the throttled log instead."""

    def __init__(self, report: ThrottledLog) -> None:
        super().__init__()
        self.report = report

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        kind = "bad_request" if getattr(error, "code", 500) < 500 else "handler_failed"
        detail = str(error) if error is not None else record.getMessage()
        self.report(kind, printable(detail, 160))
        return False


def install_server_log_filter(report: ThrottledLog) -> None:
    """Routes aiohttp's per-request error logs to `report` (replacing an earlier one)."""
    logging.getLogger("aiohttp.server").filters[:] = [_ServerErrors(report)]


async def start_listener(listen_at: str, sources: Sources) -> Listener:
    """Binds `listen_at` and serves; a bind failure is a `ListenError`, never a traceback."""
    host, port = parse_listen(listen_at)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise ListenError([f"http.listen {listen_at}: {_why(exc)}"]) from None
    report = ThrottledLog()
    install_server_log_filter(report)
    app = application(LIMITS)
    add_routes(app, sources)
    return await serve(app, sock, LIMITS, report, SHUTDOWN_SECONDS)


def _why(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return str(exc.strerror or exc).lower()
    return os.strerror(exc.errno).lower()
