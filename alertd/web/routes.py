"""What the listener serves: `/healthz`, `/livez` and `/metrics` (SPEC §5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from alertd.observability.health import Health
from alertd.observability.metrics import Metrics, SharedRender

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
ENDPOINTS = ["/healthz", "/livez", "/metrics"]


@dataclass(frozen=True, slots=True)
class Sources:
    """What the daemon lets the listener read."""

    health: Callable[[], Health]
    metrics: Metrics


def add_routes(app: web.Application, sources: Sources) -> None:
    shared = SharedRender(sources.metrics.render)

    async def healthz(request: web.Request) -> web.Response:
        verdict = sources.health()
        return web.json_response(verdict.body(), status=200 if verdict.ok else 503)

    async def livez(request: web.Request) -> web.Response:
        verdict = sources.health()
        return web.json_response(verdict.liveness(), status=200 if verdict.live else 503)

    async def metrics(request: web.Request) -> web.Response:
        body = await shared.get()
        return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"error": "not found", "endpoints": ENDPOINTS}, status=404)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/{tail:.*}", not_found)
