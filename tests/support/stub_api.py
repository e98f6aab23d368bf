"""A real HTTP server on 127.0.0.1 that answers like the five providers' balance endpoints.

Each path answers with a configured status and body (JSON or raw bytes); every request is
recorded so tests can check what alertd sent (auth headers). Threaded, so concurrent polls
are served concurrently, as a real API would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The documented endpoint of each provider type, and a body shaped as its docs show
# (numbers chosen so that each renders in a recognisable way).
PATHS = {
    "browser7": "/v1/account/balance",
    "youcom": "/v1/billing/account_balance",
    "lobstr": "/v1/user/balance",
    "srtgen": "/api/v1/balance",
    "decaptcha": "/api/balance",
}

DOCUMENTED: dict[str, Any] = {
    # 1700 cents: "$17.00 (1,700 renders)"
    "browser7": {
        "totalBalanceCents": 1700,
        "totalBalanceFormatted": "$17.00",
        "breakdown": {
            "paid": {"cents": 1575, "formatted": "$15.75"},
            "free": {"cents": 0, "formatted": "$0.00"},
            "bonus": {"cents": 125, "formatted": "$1.25"},
        },
    },
    # fractional cents: "$7,189.245"
    "youcom": {"data": {"type": "account", "id": "a1b2", "attributes": {"balance": 718924.5}}},
    # available - consumed = 8,450 credits, capacity 10,000
    "lobstr": {
        "id": "price_abc123",
        "object": "plan",
        "name": "Professional",
        "available": 10000,
        "consumed": 1550,
        "bonus_credit": 0,
        "rollover_credit": 200,
        "rollover_credit_expires_at": None,
        "interval": "monthly",
        "used_slots": 3,
        "total_available_slots": 20,
        "has_unpaid_bill": False,
        "reset_time": "2025-02-01T00:00:00Z",
    },
    # 1,250 credits of a 1,250 capacity (1000 plan + 250 extra); storage 2% full
    "srtgen": {
        "success": True,
        "user": {"name": "Alex Rivera", "email": "alex@example.com"},
        "credits": {
            "totalBalance": 1250,
            "totalMonthlyCredits": 1000,
            "extraCredits": 250,
            "plans": [
                {
                    "id": "starter",
                    "name": "Starter Plan",
                    "status": "active",
                    "balance": 1000,
                    "total": 1000,
                    "resetTime": "2026-04-29T17:48:46.000Z",
                }
            ],
        },
        "storage": {
            "usage": 209715200,
            "limit": 10737418240,
            "formattedUsage": "200 MB",
            "formattedLimit": "10 GB",
        },
        "updatedAt": "2026-03-29T17:48:46.000Z",
    },
    # a balance string with a thousands separator: "$1,250.75"
    "decaptcha": {"isSuccess": True, "statusCode": 200, "errorMessage": None, "data": "1,250.75"},
}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    path: str
    headers: Mapping[str, str]


class StubAPI:
    """`reply(path, ...)` sets what a path answers; unknown paths get a JSON 404."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, Reply] = {}
        self._seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with stub._lock:
                    stub._seen.append(Seen(path, {k.lower(): v for k, v in self.headers.items()}))
                    reply = stub._routes.get(path, Reply(404, b'{"error": "not found"}'))
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reply(
        self,
        path: str,
        body: Any = None,
        *,
        status: int = 200,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        with self._lock:
            self._routes[path] = Reply(status, data, dict(headers or {}))

    def documented(self, provider_type: str, **changes: Any) -> None:
        """Serves the documented body of a provider type, top-level keys replaced by `changes`."""
        body = {**DOCUMENTED[provider_type], **changes}
        self.reply(PATHS[provider_type], body)

    def seen(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if s.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def running_stub() -> Iterator[StubAPI]:
    stub = StubAPI()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
