"""A minimal asyncio HTTP/1.1 server for GET-style endpoints: health, metrics, simulator.

Hand-written rather than a web framework: alertd serves three tiny endpoints, and aiohttp
or uvicorn would add megabytes of RSS to a daemon that targets < 75 MB (issue 11 may still
swap it; tests/hostile/test_listener.py speaks raw TCP so that it guards any replacement).
Keep-alive is supported because the simulator serves 1,000 accounts to one client pool.

Its clients may be hostile (issue 8): `Limits` bounds what one can cost (a deadline for the
request, one for taking the answer, sizes of the request line, headers and body, methods),
and `alertd.httpguard` adds a cap on connections, a pace, and an accept loop that survives
running out of descriptors. Without them, 1,100 idle connections exhausted the 1,024
descriptors of a systemd service and stopped every poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_HEADER_LINES = 100
MAX_REQUEST_BODY = 64 * 1024
LINGER_SECONDS = 1.0  # after an error answer, what the client sent is read (and dropped) so long
LINGER_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may cost the server. The defaults hold nothing back beyond sizes
    (the simulator serves a trusted client pool); `httpguard.listen()` callers pass strict
    ones."""

    max_connections: int | None = None  # beyond it, 503 and closed at once
    request_timeout: float | None = None  # a request (head and body) must arrive within it
    write_timeout: float | None = None  # and its answer be taken by the client within it
    max_request_line: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    max_header_lines: int = MAX_HEADER_LINES
    max_body: int = MAX_REQUEST_BODY
    methods: frozenset[str] | None = None  # others are 405; None: any
    # httpguard.listen() only: requests handled, and connections accepted, per second at
    # most (the excess waits its turn, connections in the kernel's accept queue), so that
    # clients can never take more than a bounded share of the event loop from polling.
    requests_per_second: float | None = None
    accepts_per_second: float | None = None

    @property
    def stream_limit(self) -> int:
        """The StreamReader's line limit: the longest line any limit allows, plus its CRLF."""
        return max(self.max_request_line, self.max_header_bytes) + 2


class HttpError(Exception):
    """A request refused before it reached the handler; answered with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass(frozen=True, slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Response:
        return cls(status, json.dumps(payload).encode(), headers=headers)


Handler = Callable[[Request], Awaitable[Response]]
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


async def _line(reader: asyncio.StreamReader, limit: int, status: int, what: str) -> bytes:
    try:
        line = await reader.readline()
    except ValueError:  # longer than the reader's own limit
        raise HttpError(status, f"{what} too long") from None
    if len(line) > limit + 2:
        raise HttpError(status, f"{what} too long")
    return line


async def _read_request(reader: asyncio.StreamReader, limits: Limits) -> Request | None:
    """The next request, or None when the client went away part way; HttpError when it is
    malformed or over a limit."""
    request_line = await _read_request_line(reader, limits)
    if request_line is None:
        return None  # the client went away (or never said anything)
    method, target = request_line
    headers = await _read_headers(reader, limits)
    if headers is None:
        return None
    body = await _read_body(reader, limits, headers)
    url = urlsplit(target)
    return Request(method, url.path, parse_qs(url.query), headers, body)


async def _read_request_line(
    reader: asyncio.StreamReader, limits: Limits
) -> tuple[str, str] | None:
    """(method, target) of the request line, or None when the line never ended."""
    line = await _line(reader, limits.max_request_line, 414, "request line")
    if not line.endswith(b"\n"):
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HttpError(400, "bad request line")
    method, target, _ = parts
    method = method.upper()
    if limits.methods is not None and method not in limits.methods:
        raise HttpError(405, f"method {method[:16]} not allowed")
    return method, target


async def _read_headers(reader: asyncio.StreamReader, limits: Limits) -> dict[str, str] | None:
    """The header fields by lower-cased name, or None when a line never ended."""
    headers: dict[str, str] = {}
    size = 0
    for _ in range(limits.max_header_lines + 1):
        raw = await _line(reader, limits.max_header_bytes, 431, "header")
        size += len(raw)
        if size > limits.max_header_bytes:
            raise HttpError(431, "headers too large")
        if raw in (b"\r\n", b"\n"):
            break
        if not raw.endswith(b"\n"):
            return None
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise HttpError(400, "bad header line")
        headers[name.strip().lower()] = value.strip()
    else:
        raise HttpError(431, "too many headers")
    return headers


async def _read_body(
    reader: asyncio.StreamReader, limits: Limits, headers: Mapping[str, str]
) -> bytes:
    """The body of `content-length` bytes; chunked bodies are refused."""
    if "transfer-encoding" in headers:
        raise HttpError(400, "transfer-encoding is not supported")
    length_text = headers.get("content-length", "0") or "0"
    if not length_text.isdigit() or not length_text.isascii():
        raise HttpError(400, "bad content-length")
    length = int(length_text)
    if length > limits.max_body:
        raise HttpError(413, "request body too large")
    return await reader.readexactly(length) if length else b""


def encode(response: Response, keep_alive: bool, head_only: bool = False) -> bytes:
    reason = _REASONS.get(response.status, "Status")
    head = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{k}: {v}" for k, v in response.headers.items()),
    ]
    prefix = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    return prefix if head_only else prefix + response.body


def _error_response(error: HttpError, limits: Limits) -> Response:
    headers = {}
    if error.status == 405 and limits.methods is not None:
        headers["Allow"] = ", ".join(sorted(limits.methods))
    return Response.json({"error": error.message}, status=error.status, **headers)


async def _refuse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: Response
) -> None:
    """Answers and closes so that the client reads the answer: what it already sent is read
    and dropped for a moment (closing with unread data would reset the connection first)."""
    writer.write(encode(response, keep_alive=False))
    with contextlib.suppress(Exception):
        async with asyncio.timeout(LINGER_SECONDS):
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            dropped = 0
            while dropped < LINGER_BYTES:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                dropped += len(chunk)


async def serve_connection(
    handler: Handler,
    limits: Limits,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    pace: Callable[[], Awaitable[None]] | None = None,
) -> None:
    try:
        while True:
            request = await _next_request(reader, writer, limits)
            if request is None:
                break
            if pace is not None:  # the caller's budget of requests per second
                await pace()
            response = await _handle(handler, request)
            if not await _send(writer, limits, request, response):
                break
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        await _close(writer, limits)


async def _next_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limits: Limits
) -> Request | None:
    """The next request, or None when the connection is to be closed: the client went away
    or stayed silent, or its request was refused (and told why)."""
    try:
        # One deadline for the whole request: a silent client, an idle keep-alive
        # one and a header dribbler are all closed when it passes.
        async with asyncio.timeout(limits.request_timeout):
            return await _read_request(reader, limits)
    except HttpError as error:
        await _refuse(reader, writer, _error_response(error, limits))
    except (asyncio.IncompleteReadError, TimeoutError):
        pass
    return None


async def _handle(handler: Handler, request: Request) -> Response:
    """The handler's answer; a 500 when it raised."""
    try:
        return await handler(request)
    except Exception:
        return Response.json({"error": "internal error"}, status=500)


async def _send(
    writer: asyncio.StreamWriter, limits: Limits, request: Request, response: Response
) -> bool:
    """Writes the answer; True when the connection stays open for another request."""
    keep_alive = request.headers.get("connection", "").lower() != "close"
    writer.write(encode(response, keep_alive, head_only=request.method == "HEAD"))
    try:
        async with asyncio.timeout(limits.write_timeout):
            await writer.drain()
    except TimeoutError:  # a client that does not read its answer loses it
        writer.transport.abort()
        return False
    return keep_alive


async def _close(writer: asyncio.StreamWriter, limits: Limits) -> None:
    writer.close()
    # Shutdown cancels open keep-alive connections: nothing to report about those. A
    # client that stopped reading cannot hold the close up past the write timeout.
    with contextlib.suppress(Exception, asyncio.CancelledError):
        try:
            async with asyncio.timeout(limits.write_timeout):
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()


async def serve(
    handler: Handler, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None
) -> asyncio.Server:
    """Starts serving at once; `server.sockets[0].getsockname()[1]` is the bound port.
    For trusted local clients (the simulator): asyncio's own accept loop, which floods its
    log when descriptors run out. Anything facing unknown clients uses `httpguard.listen()`."""
    limits = limits or Limits()
    return await asyncio.start_server(
        lambda r, w: serve_connection(handler, limits, r, w),
        host,
        port,
        backlog=1024,
        limit=limits.stream_limit,
    )


def bound_port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])
