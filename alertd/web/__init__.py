"""The HTTP side of alertd: the listener (health, metrics, status page, API) on aiohttp, and
the guard that keeps its untrusted clients from costing polling anything."""
