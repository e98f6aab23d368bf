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
from pathlib import Path
from typing import Any

from alertd.demo.simulator import PATHS

# The documented endpoint of each provider type (shared with the simulator), and a body as
# its docs show, read from tests/fixtures: "$17.00 (1,700 renders)", "$7,189.245",
# "8,450 credits", 1,250 credits with an active plan, "$1,250.75" from "1,250.75".
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DOCUMENTED: dict[str, Any] = {
    kind: json.loads((FIXTURES / kind / name).read_text())
    for kind, name in {
        "browser7": "balance_1700.json",
        "youcom": "balance.json",
        "lobstr": "balance.json",
        "srtgen": "balance.json",
        "decaptcha": "balance_separators.json",
    }.items()
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
