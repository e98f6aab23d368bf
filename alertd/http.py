"""The one shared httpx client, with a small connection pool per provider.

A client per request costs ~26 ms of CPU (CA bundle load), so there is one client and one
SSL context. Its transport keeps a separate connection pool per provider, because
httpcore scans every connection of a pool on each request: with a thousand providers in
one pool that scan made a poll cost 4-12 ms of CPU (measured); with a pool per provider it
is one connection. Separate pools also mean a hanging provider can only ever hold its own
connection, never starve another provider of one. A provider polled less often than the
keep-alive expiry closes its connection after each poll: an idle socket per provider held
open until its next poll cost ~50 MB at a thousand providers (measured) for nothing.
"""

from __future__ import annotations

import ssl

import httpx

from alertd import __version__

POOL_KEY = "alertd.pool"
KEEPALIVE_KEY = "alertd.keepalive"
KEEPALIVE_EXPIRY = 5.0


class PerProviderTransport(httpx.AsyncBaseTransport):
    """Routes each request to the pool named by its `alertd.pool` extension."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._pools: dict[str, httpx.AsyncHTTPTransport] = {}

    def _pool(self, key: str, keepalive: bool) -> httpx.AsyncHTTPTransport:
        pool = self._pools.get(key)
        if pool is None:
            limits = httpx.Limits(
                max_connections=2,
                max_keepalive_connections=1 if keepalive else 0,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            )
            pool = httpx.AsyncHTTPTransport(verify=self._ssl_context, limits=limits)
            self._pools[key] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = str(request.extensions.get(POOL_KEY, "shared"))
        keepalive = bool(request.extensions.get(KEEPALIVE_KEY, True))
        return await self._pool(key, keepalive).handle_async_request(request)

    async def forget(self, key: str) -> None:
        """Closes a removed provider's pool (after a reload)."""
        pool = self._pools.pop(key, None)
        if pool is not None:
            await pool.aclose()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


def make_client() -> httpx.AsyncClient:
    """Per-request timeouts come from each provider; pools are per provider (see above)."""
    transport = PerProviderTransport(httpx.create_ssl_context())
    return httpx.AsyncClient(
        transport=transport,
        headers={"User-Agent": f"alertd/{__version__}"},
        follow_redirects=False,
    )
