"""The optional HTTP listener: `/healthz`, `/livez` and `/metrics` (SPEC §5), off unless
configured.

Its clients are not trusted (issue 8): a handful of connections at a time, each given a
few seconds to send its request and to take its answer, GET and HEAD only, and /metrics
rendered at most once a second off the event loop, so that no client, nor many, can take
descriptors or event-loop time from polling. What it refuses is logged at most once a
minute per kind, with a count.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from alertd.config.types import parse_listen
from alertd.errors import ConfigError
from alertd.httpguard import Listener, listen
from alertd.httpserver import Limits, Request, Response
from alertd.observability import logging as logs
from alertd.observability.health import Health
from alertd.observability.metrics import Metrics, SharedRender

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
ENDPOINTS = ["/healthz", "/livez", "/metrics"]
LIMITS = Limits(
    max_connections=32,  # a healthcheck and a few Prometheus servers need a handful
    request_timeout=5.0,
    write_timeout=10.0,
    max_request_line=8 * 1024,
    max_header_bytes=16 * 1024,
    max_header_lines=100,
    max_body=0,
    methods=frozenset({"GET", "HEAD"}),
    # ~1 ms of event loop each at most (a cached /metrics of 465 KB): under 10% of it.
    requests_per_second=50,
    accepts_per_second=200,
)
LOG_EVERY_SECONDS = 60.0


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


async def start_listener(
    listen_at: str, health: Callable[[], Health], metrics: Metrics
) -> Listener:
    """Binds `listen_at` and serves; a bind failure is a `ListenError`, never a traceback."""
    shared = SharedRender(metrics.render)

    async def handle(request: Request) -> Response:
        if request.path == "/healthz":
            verdict = health()
            return Response.json(verdict.body(), status=200 if verdict.ok else 503)
        if request.path == "/livez":
            verdict = health()
            return Response.json(verdict.liveness(), status=200 if verdict.live else 503)
        if request.path == "/metrics":
            return Response(200, await shared.get(), content_type=PROMETHEUS_TEXT)
        return Response.json({"error": "not found", "endpoints": ENDPOINTS}, 404)

    host, port = parse_listen(listen_at)
    try:
        return await listen(handle, host, port, LIMITS, ThrottledLog())
    except OSError as exc:
        raise ListenError([f"http.listen {listen_at}: {_why(exc)}"]) from None


def _why(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return str(exc.strerror or exc).lower()
    return os.strerror(exc.errno).lower()
