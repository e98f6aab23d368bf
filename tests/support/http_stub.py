"""The one HTTP stub of the tests and the bench: a threaded HTTP/1.1 server on 127.0.0.1.

It plays a provider's balance API and a notifier's webhook alike:

- what a path answers is a `Reply` (status, headers, body; a delay, a trickle, a hold, a
  wrong Content-Length or chunked encoding): `answer(path, reply)` for every request from
  now on, `script(path, *replies)` for the next few (then the standing answer again);
  paths match as sent or without their query; anything else gets `fallback`;
- every request is recorded (`requests`, `seen(path)`): method, path, lowercased headers,
  body, arrival time and the status it was given; `wait_for` waits for some, bounded;
- as a webhook (`webhook()`, what an Apprise `json://` URL posts to) it answers 200 to any
  path, `messages` are the JSON bodies it accepted, `go_down()` answers 500 until
  `come_back()` (the bodies are then `rejected`);
- `stop()` closes the listening socket, so clients meet "connection refused", and `start()`
  listens again on the same port; `close_each` closes every connection after its answer,
  so no kept-alive connection outlives a `stop()`; `tls` serves HTTPS.

Delays and holds end when the stub stops, so teardown never waits on them.

`SilentServer`, at the bottom, is its socket-level sibling: it accepts and never sends a
byte (a hung webhook, or an SMTP server that never greets).

Standard library only: bench/run.py imports it too.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

HOLD_LIMIT_S = 120.0  # a held answer is abandoned after this, should nobody stop the stub


@dataclass(frozen=True)
class Reply:
    """What the stub answers; by default an empty JSON 200 with its Content-Length."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before the status line is sent
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    declared_length: int | None = None  # Content-Length sent instead of len(body)
    chunk_size: int = 64 * 1024
    drip: float = 0.0  # seconds between chunks (a body that trickles in)
    hold: bool = False  # after the headers, send nothing more until the stub stops

    @classmethod
    def json(cls, body: Any, status: int = 200, **options: Any) -> Reply:
        return cls(status=status, body=json.dumps(body).encode(), **options)


NOT_FOUND = Reply(status=404, body=b'{"detail": "Not Found"}')
ACCEPTED = Reply(body=b'{"ok": true}')
DOWN = Reply(status=500, body=b'{"error": "receiver is down"}')


@dataclass(frozen=True)
class Request:
    """One request as the stub received it, and the status it was answered with."""

    method: str
    path: str  # as sent, query included
    headers: dict[str, str]  # names lowercased
    body: bytes
    status: int
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]

    def json(self) -> Any:
        return json.loads(self.body)

    def message(self) -> dict[str, Any]:
        """The body as a webhook message (Apprise json://), with the path it was posted to."""
        try:
            body = json.loads(self.body or b"null")
        except ValueError:
            body = {"unparseable": self.body.decode("utf-8", "replace")}
        if not isinstance(body, dict):
            body = {"unexpected": body}
        return {**body, "_path": self.path}


class HttpStub:
    def __init__(
        self,
        *,
        fallback: Reply = NOT_FOUND,
        hook_path: str = "/hook",
        close_each: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.fallback = fallback
        self.hook_path = hook_path
        self.close_each = close_each
        self.tls = tls
        self.stopping = threading.Event()
        self._changed = threading.Condition()
        self._routes: dict[str, Reply] = {}
        self._scripts: dict[str, list[Reply]] = {}
        self._override: Reply | None = None
        self._requests: list[Request] = []
        self._port = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # what it answers ----------------------------------------------------------------------------
    def answer(self, path: str, reply: Reply) -> None:
        """`path` answers `reply` from now on (after any scripted replies)."""
        with self._changed:
            self._routes[path] = reply

    def script(self, path: str, *replies: Reply | int) -> None:
        """The next requests to `path` get these replies, one each (an int is a bare status);
        then its standing answer again."""
        with self._changed:
            self._scripts[path] = [r if isinstance(r, Reply) else Reply(status=r) for r in replies]

    def go_down(self) -> None:
        """Every request gets a 500 (after the fallback's delay) until `come_back()`."""
        with self._changed:
            self._override = Reply(status=DOWN.status, body=DOWN.body, delay=self.fallback.delay)

    def come_back(self) -> None:
        with self._changed:
            self._override = None

    def _reply_for(self, path: str) -> Reply:
        if self._override is not None:
            return self._override
        for key in (path, path.split("?", 1)[0]):
            if self._scripts.get(key):
                return self._scripts[key].pop(0)
        for key in (path, path.split("?", 1)[0]):
            if key in self._routes:
                return self._routes[key]
        return self.fallback

    def _receive(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._changed:
            reply = self._reply_for(path)
            self._requests.append(
                Request(method, path, headers, body, reply.status, time.monotonic(), time.time())
            )
            self._changed.notify_all()
            return reply

    # what it received ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        with self._changed:
            return list(self._requests)

    def seen(self, path: str) -> list[Request]:
        """Requests to `path` (as sent, or without the query)."""
        return [r for r in self.requests if path in (r.path, r.route)]

    def received(self, path: str) -> list[Any]:
        """The JSON bodies sent to `path`, whatever they were answered."""
        return [r.json() for r in self.seen(path)]

    def wait_for(
        self,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Request], bool] = lambda r: True,
    ) -> list[Request]:
        """Waits until `count` requests matching `where` arrived; AssertionError after `timeout`."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(map(where, self._requests)) >= count, timeout=timeout
            )
            matching = [r for r in self._requests if where(r)]
        assert done, f"{len(matching)} of {count} requests after {timeout}s"
        return matching

    @property
    def arrivals(self) -> list[float]:
        """When each request arrived (time.monotonic())."""
        return [r.at for r in self.requests]

    # ... as a webhook ---------------------------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        """Bodies of the POSTs answered 2xx, in arrival order, each with its `_path`."""
        return [r.message() for r in self.requests if r.method == "POST" and r.status < 300]

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """Bodies of the POSTs answered with an error (while down)."""
        return [r.message() for r in self.requests if r.method == "POST" and r.status >= 400]

    def of_type(self, notify_type: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == notify_type]

    def about(self, provider: str) -> list[dict[str, Any]]:
        """Messages whose title names this provider (`[LEVEL] provider: ...`)."""
        return [m for m in self.messages if f"] {provider}:" in str(m.get("title", ""))]

    # where it listens ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._port}"

    def json_url(self, path: str) -> str:
        return f"json://127.0.0.1:{self._port}{path}"

    @property
    def apprise_url(self) -> str:
        return self.json_url(self.hook_path)

    def refuses_connections(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self._port)) != 0

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Self:
        """Listens (again): on a free port the first time, then on the port it had."""
        if self._httpd is not None:
            return self
        deadline = time.monotonic() + 10
        while True:
            try:
                httpd = _Server(("127.0.0.1", self._port), _Handler)
                break
            except OSError:  # the same port, freed a moment ago
                if self._port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        httpd.stub = self
        self.stopping = threading.Event()
        self._port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="http-stub"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Closes the listening socket and ends delays and holds (nothing if stopped already)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def webhook_stub(
    path: str = "/hook", answer_after: float = 0.0, close_each: bool = False
) -> HttpStub:
    """A stub (not started) that accepts every POST, answering 200 after `answer_after` s."""
    fallback = Reply(body=ACCEPTED.body, delay=answer_after)
    return HttpStub(fallback=fallback, hook_path=path, close_each=close_each)


@contextmanager
def serving(stub: HttpStub | None = None) -> Iterator[HttpStub]:
    with stub or HttpStub() as running:
        yield running


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stub: HttpStub

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early (timeouts, refused bodies) is expected, not an error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output, not an access log."""

    def _handle(self) -> None:
        stub = self.server.stub
        stopping = stub.stopping
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = stub._receive(self.command, self.path, headers, body)
        try:
            self._send(reply, stopping, stub.close_each)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def _send(self, reply: Reply, stopping: threading.Event, close: bool) -> None:
        if reply.delay and stopping.wait(reply.delay):
            self.close_connection = True
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
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        if reply.hold:
            stopping.wait(HOLD_LIMIT_S)
            self.close_connection = True
            return
        body = reply.body
        for start in range(0, len(body), reply.chunk_size):
            if start and reply.drip and stopping.wait(reply.drip):
                self.close_connection = True
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


# -- below HTTP -----------------------------------------------------------------------------------


class SilentServer:
    """Accepts every connection and never sends a byte: an SMTP client waits for its greeting,
    an HTTP client for its answer. `connections` counts the accepted ones."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with self._lock:
                self._held.append(conn)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for conn in self._held:
                conn.close()
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
