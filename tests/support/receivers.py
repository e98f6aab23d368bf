"""Real notification receivers on 127.0.0.1 for end-to-end tests: a webhook and an SMTP server.

`WebhookReceiver` is what an Apprise `json://` URL posts to. It records every POSTed JSON
body (`{"version", "title", "message", "attachments", "type"}`) and can be switched "down"
(answers 500, counting the rejected attempts) and back up. `ClosableWebhookReceiver` is down
another way: its listening socket is closed, so deliveries meet "connection refused".

`SmtpReceiver` is an aiosmtpd server with AUTH over plain SMTP (as Apprise's
`mailto://user:pass@127.0.0.1:PORT?...&mode=insecure` speaks it). It records each message's
Subject and text body, and can refuse logins for a while.

Both bind port 0 and are thread-safe to read from the test thread.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# -- webhook ------------------------------------------------------------------------------------


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: WebhookReceiver


class _WebhookHandler(BaseHTTPRequestHandler):
    server: _WebhookServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = {"unparseable": raw.decode("utf-8", "replace")}
        if not isinstance(body, dict):
            body = {"unexpected": body}
        body["_path"] = self.path
        status = self.server.receiver._record(body)
        reply = b'{"ok": true}' if status == 200 else b'{"error": "receiver is down"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output, not an access log."""


class _OneRequestPerConnection(_WebhookHandler):
    protocol_version = "HTTP/1.0"  # the server closes each connection after its answer


class WebhookReceiver:
    """A threaded HTTP server recording POSTed JSON bodies; `go_down` makes it answer 500.

    `stop` closes the listening socket (a delivery then meets "connection refused"); `start`
    listens again, on the same port once it had one.
    """

    handler: type[_WebhookHandler] = _WebhookHandler

    def __init__(self, path: str = "/hook") -> None:
        self.path = path
        self._lock = threading.Lock()
        self._received: list[dict[str, Any]] = []
        self._rejected: list[dict[str, Any]] = []
        self._down = False
        self._port = 0
        self._httpd: _WebhookServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self.port}{self.path}"

    # state switches ---------------------------------------------------------------------------
    def go_down(self) -> None:
        """Answer 500 to every POST from now on (the body is still recorded as rejected)."""
        with self._lock:
            self._down = True

    def come_back(self) -> None:
        with self._lock:
            self._down = False

    @property
    def is_down(self) -> bool:
        with self._lock:
            return self._down

    # what arrived ------------------------------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        """Bodies accepted with 200, in arrival order."""
        with self._lock:
            return list(self._received)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """Bodies answered with 500 while down."""
        with self._lock:
            return list(self._rejected)

    def of_type(self, notify_type: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == notify_type]

    def about(self, provider: str) -> list[dict[str, Any]]:
        """Messages whose title names this provider (`[LEVEL] provider: ...`)."""
        return [m for m in self.messages if f"] {provider}:" in str(m.get("title", ""))]

    def _record(self, body: dict[str, Any]) -> int:
        with self._lock:
            if self._down:
                self._rejected.append(body)
                return 500
            self._received.append(body)
            return 200

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Self:
        """Listens (again): on port 0 the first time, then on the port it had."""
        if self._httpd is not None:
            return self
        deadline = time.monotonic() + 10
        while True:
            try:
                httpd = _WebhookServer(("127.0.0.1", self._port), self.handler)
                break
            except OSError:  # the same port, freed a moment ago
                if self._port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        httpd.receiver = self
        self._port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Closes the listening socket (nothing happens if it is closed already)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def is_listening(self) -> bool:
        return self._httpd is not None

    def refuses_connections(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) != 0


class ClosableWebhookReceiver(WebhookReceiver):
    """A webhook whose `down()` CLOSES its listening socket, so deliveries meet "connection
    refused" (not a polite 500); `up()` listens again on the same port. HTTP/1.0: one request
    per connection, so no kept-alive connection still takes deliveries while it is down."""

    handler = _OneRequestPerConnection

    def down(self) -> None:
        self.stop()

    def up(self) -> Self:
        return self.start()


@contextmanager
def webhook_receiver(path: str = "/hook") -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(path).start()
    try:
        yield receiver
    finally:
        receiver.stop()


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    text: str  # the text/plain part (or the whole body of a single-part message)
    raw: str  # the message as received, headers and all parts


class _MailHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        part = parsed.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
        self.receiver._record(
            Mail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                subject=str(parsed.get("Subject", "")),
                text=str(text),
                raw=content.decode("utf-8", "replace"),
            )
        )
        return "250 Message accepted for delivery"


class _PortZeroController(Controller):
    """aiosmtpd's Controller on port 0: learns the port the OS picked before using it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpReceiver:
    """Plain SMTP with AUTH (PLAIN/LOGIN) accepted for `user`/`password`, recording mail."""

    def __init__(self, user: str = "user", password: str = "pass") -> None:
        self.user = user
        self.password = password
        self._lock = threading.Lock()
        self._mails: list[Mail] = []
        self._logins: list[tuple[str, bool]] = []
        self._refuse_logins = False
        self._controller = _PortZeroController(
            _MailHandler(self),
            hostname="127.0.0.1",
            port=0,
            auth_require_tls=False,
            authenticator=self._authenticate,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        with self._lock:
            if self._refuse_logins:
                ok = False
            login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
            self._logins.append((login, ok))
        # handled=False: aiosmtpd itself answers "535 Authentication credentials invalid"
        # (with the default handled=True it would wait for us to answer, and the client hangs).
        return AuthResult(success=ok, handled=False)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def apprise_url(self, to: str = "ops@example.com", sender: str = "a@example.com") -> str:
        return (
            f"mailto://{self.user}:{self.password}@127.0.0.1:{self.port}"
            f"?from={sender}&to={to}&mode=insecure"
        )

    def refuse_logins(self, refuse: bool = True) -> None:
        """While set, every AUTH fails (535), as with a rotated password."""
        with self._lock:
            self._refuse_logins = refuse

    @property
    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)

    @property
    def logins(self) -> list[tuple[str, bool]]:
        """(login, accepted) for each AUTH attempt."""
        with self._lock:
            return list(self._logins)

    def about(self, provider: str) -> list[Mail]:
        return [m for m in self.mails if f"] {provider}:" in m.subject]

    def _record(self, mail: Mail) -> None:
        with self._lock:
            self._mails.append(mail)

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@contextmanager
def smtp_receiver(user: str = "user", password: str = "pass") -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(user, password).start()
    try:
        yield receiver
    finally:
        receiver.stop()
