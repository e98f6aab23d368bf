"""A real SMTP server on 127.0.0.1 for end-to-end tests (aiosmtpd); webhooks are
`support.http_stub`.

`SmtpReceiver` is an aiosmtpd server with AUTH over plain SMTP (as Apprise's
`mailto://user:pass@127.0.0.1:PORT?...&mode=insecure` speaks it). It records each message's
Subject and text body, and can refuse logins for a while. It binds port 0 and is thread-safe
to read from the test thread.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


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
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd is untyped


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
