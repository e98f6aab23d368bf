"""A real HTTP/1.1 server on 127.0.0.1 for provider fetch tests: one thread per connection.

Each test says what one path answers (`Reply`) and reads back what the server received
(`StubServer.requests`), so the auth header and the path are checked on the wire. Unknown
paths answer 404. Slow replies wait on an event that `stop()` sets, so teardown never waits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """What the server answers; by default a JSON body with its Content-Length."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before the status line is sent
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    declared_length: int | None = None  # Content-Length sent instead of len(body)
    chunk_size: int = 64 * 1024
    drip: float = 0.0  # seconds between chunks (a body that trickles in)
    hold: bool = False  # after the headers, send nothing more until the server stops


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased


class StubServer:
    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[Seen] = []
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.stub = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, path: str, reply: Reply) -> None:
        self.routes[path] = reply

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serving() -> Iterator[StubServer]:
    server = StubServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: StubServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early (timeouts, refused bodies) is expected, not an error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        stub = self.server.stub
        stub.requests.append(
            Seen(
                method="GET",
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
            )
        )
        reply = stub.routes.get(self.path) or Reply(status=404, body=b'{"detail": "Not Found"}')
        try:
            self._send(reply, stub.stopping)
        except OSError:
            self.close_connection = True

    def _send(self, reply: Reply, stopping: threading.Event) -> None:
        if reply.delay and stopping.wait(reply.delay):
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            length = len(reply.body) if reply.declared_length is None else reply.declared_length
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()
        if reply.hold:
            stopping.wait()
            self.close_connection = True
            return
        body = reply.body
        for start in range(0, len(body), reply.chunk_size):
            if start and reply.drip and stopping.wait(reply.drip):
                return
            piece = body[start : start + reply.chunk_size]
            if reply.chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            self.wfile.flush()
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
