"""What the listener serves: `/healthz`, `/livez`, `/metrics` (SPEC §5), the status page `/`,
`/api/v1/status`, `/api/v1/providers/NAME/history` and `/badge/NAME.svg` (SPEC §8).

Anything costly is bounded: the page and the status JSON are made at most once a second
however many ask (as /metrics is), rendered off the event loop; each provider's history for
a sparkline is read with a deadline and a few at a time, and a provider whose history is
late simply has no sparkline this time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from alertd.config.model import HttpConfig
from alertd.observability import logging as logs
from alertd.observability.health import Health
from alertd.observability.metrics import Metrics, Shared, SharedRender
from alertd.store.base import History
from alertd.text import printable
from alertd.web import api, page
from alertd.web.sparkline import Sparkline, sparkline
from alertd.web.status import (
    Redact,
    StatusView,
    Watched,
    levels_in_unit,
    provider_view,
    status_view,
)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
ENDPOINTS = [
    "/",
    "/api/v1/status",
    "/api/v1/providers/{name}/history?since=7d",
    "/badge/{name}.svg",
    "/healthz",
    "/livez",
    "/metrics",
]
SPARK_WINDOW = timedelta(days=7)
HISTORY_SECONDS = 2.0  # one provider's history for the page, at most
HISTORY_API_SECONDS = 10.0  # and for the history API
HISTORY_AT_ONCE = 8
# Every answer: nothing is cached by a proxy, sniffed as another type, framed, or referred.
COMMON_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Server": "alertd",
}
HistoryReader = Callable[[str, datetime], Awaitable[History]]


def _now() -> datetime:
    return datetime.now(UTC)


def _no_watches() -> Mapping[str, Watched]:
    return {}


@dataclass(frozen=True, slots=True)
class Sources:
    """What the daemon lets the listener read: all of it read-only."""

    health: Callable[[], Health]
    metrics: Metrics
    watches: Callable[[], Mapping[str, Watched]] = _no_watches
    clock: Callable[[], datetime] = _now
    history: HistoryReader | None = None  # the store's; None: no history, no sparklines
    http: HttpConfig = field(default_factory=HttpConfig)
    redact: Redact = str  # masks known secrets in text from outside (the log redactor's)


@web.middleware
async def common_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # aiohttp's own 404/405 become JSON too
        response = web.json_response({"error": exc.reason}, status=exc.status)
    for name, value in COMMON_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def _not_found(what: str) -> web.Response:
    return _json({"error": what, "endpoints": ENDPOINTS}, 404)


class Routes:
    """The handlers, over one set of `Sources`."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.metrics_text = SharedRender(sources.metrics.render)
        self.page = Shared(self._render_page)
        self.status = Shared(self._render_status)
        self._history_slots = asyncio.Semaphore(HISTORY_AT_ONCE)

    def add_to(self, app: web.Application) -> None:
        get = app.router.add_get
        get("/healthz", self.healthz)
        get("/livez", self.livez)
        get("/metrics", self.metrics)
        get("/", self.status_page)
        get("/api/v1/status", self.status_api)
        get("/api/v1/providers/{name}/history", self.history_api)
        get("/badge/{name}.svg", self.badge)
        app.router.add_route("*", "/{tail:.*}", self.unknown)

    # -- health and metrics ----------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        verdict = self.sources.health()
        return _json(verdict.body(), 200 if verdict.ok else 503)

    async def livez(self, request: web.Request) -> web.Response:
        verdict = self.sources.health()
        return _json(verdict.liveness(), 200 if verdict.live else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        body = await self.metrics_text.get()
        return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})

    async def unknown(self, request: web.Request) -> web.Response:
        return _not_found("not found")

    # -- the status page and the API -------------------------------------------------------------
    async def status_page(self, request: web.Request) -> web.Response:
        body = await self.page.get()
        return web.Response(
            body=body,
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": page.PAGE_CSP},
        )

    async def status_api(self, request: web.Request) -> web.Response:
        body = await self.status.get()
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    async def history_api(self, request: web.Request) -> web.Response:
        watch = self.sources.watches().get(request.match_info["name"])
        if watch is None:
            return _not_found(f"no provider '{printable(request.match_info['name'], 60)}'")
        now = self.sources.clock()
        try:
            since = api.parse_since(request.query.get("since"), now, SPARK_WINDOW)
        except api.BadQuery as exc:
            return _json({"error": str(exc)}, 400)
        try:
            history = await self._history(watch, since, HISTORY_API_SECONDS)
        except TimeoutError:
            late = f"the store did not answer within {HISTORY_API_SECONDS:g}s"
            return _json({"error": late}, 503)
        except Exception as exc:  # a store that cannot be read: said, never a traceback page
            logs.get_logger(provider=watch.name).error("history_read_failed", error=str(exc))
            return _json({"error": "the store could not be read (see alertd's log)"}, 503)
        payload = api.history_json(history, since, now, self.sources.redact)
        body = await asyncio.to_thread(json.dumps, payload)
        return web.Response(body=body.encode(), content_type="application/json", charset="utf-8")

    async def badge(self, request: web.Request) -> web.Response:
        watch = self.sources.watches().get(request.match_info["name"])
        if watch is None:
            return _not_found(f"no provider '{printable(request.match_info['name'], 60)}'")
        svg = page.render_badge(provider_view(watch, redact=self.sources.redact))
        return web.Response(
            text=svg,
            content_type="image/svg+xml",
            headers={"Content-Security-Policy": page.BADGE_CSP},
        )

    # -- making them ---------------------------------------------------------------------------
    async def _render_status(self) -> bytes:
        view = status_view(
            self.sources.watches().values(), self.sources.clock(), redact=self.sources.redact
        )
        text = await asyncio.to_thread(json.dumps, api.status_json(view))
        return text.encode()

    async def _render_page(self) -> bytes:
        view = await self._view_with_sparklines()
        seconds = int(self.sources.http.refresh.total_seconds())
        text = await asyncio.to_thread(page.render_page, view, seconds)
        return text.encode()

    async def _view_with_sparklines(self) -> StatusView:
        watches = list(self.sources.watches().values())
        now = self.sources.clock()
        sparks: dict[str, Sparkline] = {}
        if self.sources.history is not None:
            found = await asyncio.gather(
                *(self._spark(w, now) for w in watches), return_exceptions=True
            )
            sparks = {
                w.name: s for w, s in zip(watches, found, strict=True) if isinstance(s, Sparkline)
            }
        return status_view(watches, now, sparks, self.sources.redact)

    async def _spark(self, watch: Watched, now: datetime) -> Sparkline | None:
        history = await self._history(watch, now - SPARK_WINDOW, HISTORY_SECONDS)
        reading = watch.state.reading
        if reading is None:
            return sparkline(history.samples, history.events, {}, now)
        samples = [s for s in history.samples if s.unit == reading.unit]  # the unit shown
        return sparkline(samples, history.events, levels_in_unit(reading, watch.rules), now)

    async def _history(self, watch: Watched, since: datetime, deadline: float) -> History:
        """The store's history of one provider (none without a store)."""
        if self.sources.history is None:
            return History(watch.name)
        async with self._history_slots:
            return await asyncio.wait_for(self.sources.history(watch.name, since), deadline)


def add_routes(app: web.Application, sources: Sources) -> None:
    Routes(sources).add_to(app)
