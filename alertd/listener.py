"""The optional HTTP listener: `/healthz` and `/metrics` (SPEC §5), off unless configured."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alertd.httpserver import Request, Response, serve
from alertd.observability.health import Health
from alertd.observability.metrics import Metrics

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def parse_listen(value: str) -> tuple[str, int]:
    """`127.0.0.1:9464`, `:9464` or `9464` (loopback unless a host is named), `[::]:9464`."""
    text = value.strip()
    if text.isdigit():
        return "127.0.0.1", int(text)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{value}' is not host:port")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


async def start_listener(
    listen: str, health: Callable[[], Health], metrics: Metrics
) -> asyncio.Server:
    async def handle(request: Request) -> Response:
        if request.path == "/healthz":
            verdict = health()
            return Response.json(verdict.body(), status=200 if verdict.ok else 503)
        if request.path == "/metrics":
            return Response(200, metrics.render(), content_type=PROMETHEUS_TEXT)
        return Response.json({"error": "not found", "endpoints": ["/healthz", "/metrics"]}, 404)

    host, port = parse_listen(listen)
    return await serve(handle, host, port)
