"""The optional HTTP listener: `/healthz` and `/metrics` (SPEC §5), off unless configured."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alertd.config_types import parse_listen
from alertd.httpserver import Request, Response, serve
from alertd.observability.health import Health
from alertd.observability.metrics import Metrics

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


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
