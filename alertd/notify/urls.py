"""Apprise URL checks and how a notifier URL is shown, kept apart so `import apprise` stays lazy.

A notifier URL is shown as scheme, host and a fingerprint, never more: Apprise's own
"privacy" form masks `user:pass@` only, and printed header (`?+X-Token=`), query
(`?-apikey=`) and path (`/hooks/TOKEN`) tokens in clear.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import apprise
from pydantic import SecretStr

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,19}")


class _QuietWhileChecking(logging.Filter):
    """Drops Apprise's records from a thread while it checks URLs: Apprise says why it refuses
    one, quoting tokens in full ("An invalid Slack (third) Token (...) was specified"). Only
    that thread's records go: a notifier failing in a lane's thread meanwhile is still logged,
    as it would not be if the logger's level were flipped for everyone."""

    def __init__(self) -> None:
        super().__init__()
        self._checking: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in self._checking

    @contextmanager
    def checking(self) -> Iterator[None]:
        thread = threading.get_ident()
        self._checking.add(thread)
        try:
            yield
        finally:
            self._checking.discard(thread)


_QUIET = _QuietWhileChecking()
logging.getLogger("apprise").addFilter(_QUIET)


def invalid_urls(urls: Sequence[SecretStr]) -> list[tuple[int, str]]:
    """(index, scheme) of each URL Apprise refuses; the scheme is the only part shown (each
    refused URL gets its own config error line, so Apprise's own words are not needed)."""
    bad = []
    with _QUIET.checking():
        for index, url in enumerate(urls):
            text = url.get_secret_value()
            if not apprise.Apprise().add(text):
                bad.append((index, _scheme(text) or "none"))
    return bad


def fingerprint(url: str) -> str:
    """8 hex digits of the URL's SHA-256: tells two URLs apart, stable across runs and reloads
    (the state file's destination keys begin with the same digits)."""
    return hashlib.sha256(url.encode()).hexdigest()[:8]


def display_form(url: SecretStr) -> str:
    """`scheme://host:port [fingerprint]`. The host is shown only where Apprise's own privacy
    form shows it: for Slack, Telegram, Discord or PagerDuty the "host" is a token."""
    text = url.get_secret_value()
    scheme = _scheme(text) or "?"
    where = ""
    plugin = apprise.Apprise.instantiate(text)
    host = getattr(plugin, "host", None) if plugin else None
    if plugin and isinstance(host, str) and host:
        try:
            shown = urlsplit(str(plugin.url(privacy=True)))  # type: ignore[no-untyped-call]
            if shown.hostname == host.lower():
                where = shown.hostname + (f":{shown.port}" if shown.port else "")
        except ValueError:  # an odd port: show no host rather than guess
            where = ""
    return f"{scheme}://{where} [{fingerprint(text)}]"


def _scheme(text: str) -> str:
    head = text.split("://", 1)[0].lower() if "://" in text else ""
    return head if _SCHEME.fullmatch(head) else ""
