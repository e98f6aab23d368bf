"""The one shared HTTP client, with a small connection pool per provider.

A client per request costs ~26 ms of CPU (CA bundle load), so there is one client and one
SSL context. It drives httpx's transport directly: httpx.AsyncClient's cookie jar, auth
and redirect layers do nothing for a GET of a balance and cost ~0.2 ms a poll (measured).
Its transport keeps a separate connection pool per provider, because
httpcore scans every connection of a pool on each request: with a thousand providers in
one pool that scan made a poll cost 4-12 ms of CPU (measured); with a pool per provider it
is one connection. Separate pools also mean a hanging provider can only ever hold its own
connection, never starve another provider of one. A provider polled less often than the
keep-alive expiry closes its connection after each poll: an idle socket per provider held
open until its next poll cost ~50 MB at a thousand providers (measured) for nothing.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

import httpx

from alertd import __version__

POOL_KEY = "alertd.pool"
KEEPALIVE_KEY = "alertd.keepalive"
KEEPALIVE_EXPIRY = 5.0


def environment_proxy(url: httpx.URL) -> str | None:
    """HTTP(S)_PROXY / NO_PROXY as the standard library reads them, for one provider's URL."""
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy is None or urllib.request.proxy_bypass(url.host):
        return None
    return proxy


class PerProviderTransport(httpx.AsyncBaseTransport):
    """Routes each request to the pool named by its `alertd.pool` extension."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._pools: dict[str, httpx.AsyncHTTPTransport] = {}

    def _pool(self, key: str, keepalive: bool, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        pool = self._pools.get(key)
        if pool is None:
            limits = httpx.Limits(
                max_connections=2,
                max_keepalive_connections=1 if keepalive else 0,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            )
            pool = httpx.AsyncHTTPTransport(
                verify=self._ssl_context, limits=limits, proxy=environment_proxy(url)
            )
            self._pools[key] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = str(request.extensions.get(POOL_KEY, "shared"))
        keepalive = bool(request.extensions.get(KEEPALIVE_KEY, True))
        return await self._pool(key, keepalive, request.url).handle_async_request(request)

    async def forget(self, key: str) -> None:
        """Closes a removed provider's pool (after a reload)."""
        pool = self._pools.pop(key, None)
        if pool is not None:
            await pool.aclose()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


class HttpClient:
    """GET (or a balance API's POST) with a timeout, a pool key and a keep-alive choice;
    redirects are not followed."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport or PerProviderTransport(httpx.create_ssl_context())

    @asynccontextmanager
    async def get(
        self,
        url: str,
        headers: dict[str, str],
        *,
        seconds: float,
        pool: str = "shared",
        keepalive: bool = True,
        method: str = "GET",
        content: bytes | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A GET, or (`method`, `content`) the POST of a balance API that wants its key in a
        JSON body; nothing else is ever sent."""
        request = httpx.Request(
            method,
            url,
            content=content,
            headers={"User-Agent": USER_AGENT, **headers},
            extensions={
                "timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds},
                POOL_KEY: pool,
                KEEPALIVE_KEY: keepalive,
            },
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            yield response
        finally:
            await response.aclose()

    async def forget(self, pool: str) -> None:
        """Closes a provider's pool when a reload removes it or points it at another account."""
        if isinstance(self._transport, PerProviderTransport):
            await self._transport.forget(pool)

    def pools(self) -> list[str]:
        """The providers that hold a pool (a test and debugging aid)."""
        if isinstance(self._transport, PerProviderTransport):
            return sorted(self._transport._pools)
        return []

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


USER_AGENT = f"alertd/{__version__}"


def make_client() -> HttpClient:
    """Per-request timeouts come from each provider; pools are per provider (see above)."""
    return HttpClient()
