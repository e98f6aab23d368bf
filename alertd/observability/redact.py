"""A structlog processor that keeps secrets out of every log line, whatever logged them.

Three nets: known secret values (API keys, notifier URLs and the pieces of those URLs)
replaced wherever they appear, values of secret-named keys masked, and `user:password@`
stripped from any URL. The pieces matter: a library logs a request line (`POST
/hooks/TOKEN?apikey=...`) or a header, never the Apprise URL it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import unquote

MASK = "***"
_SECRET_KEY = re.compile(r"(api[_-]?key|token|password|passwd|secret|authorization)", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.I)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
_MIN_PIECE_LENGTH = 6  # a URL piece shorter than this is a word ("json", "hook"), not a token
# Plain lowercase words, hostnames and e-mail addresses in a URL are no secrets:
# "alerts", "ops-alerts", "hooks.example.com", "ops@example.com", "insecure".
# A run of 16 or more letters alone is read as a token, not a word.
_PLAIN = re.compile(r"[a-z]{1,15}|[a-z]+(?:[-_.][a-z]+)+|[^@\s/]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def url_pieces(url: str) -> set[str]:
    """The parts of a secret URL that could be secrets on their own: userinfo, a host that is
    no hostname (Slack's or Telegram's tokens), path segments, query and header values.
    Plain words and short pieces are left out, so that "json" or "alerts" stay readable."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        return set()
    rest = rest.split("#", 1)[0]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hostport = netloc.rpartition("@")
    found: set[str] = set()
    if userinfo:
        user, _, password = userinfo.partition(":")
        found.update(p for p in (password,) if len(p) >= _MIN_SECRET_LENGTH)
        found.update(p for p in (user,) if _is_token(p))
    for part in hostport.split(":"):  # host, then a port (or Telegram's bot token)
        if not part.isdigit() or len(part) > 5:
            found.update(p for p in (part,) if "." not in p and _is_token(p))
    found.update(s for s in path.split("/") if _is_token(s))
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        header = name.startswith(("+", "%2B", "%2b"))
        if (header and len(value) >= _MIN_SECRET_LENGTH) or _is_token(value):
            found.add(value)
    return found | {unquote(piece) for piece in found}


def _is_token(piece: str) -> bool:
    return (
        len(piece) >= _MIN_PIECE_LENGTH
        and not _PLAIN.fullmatch(piece)
        and not (piece.isdigit() and len(piece) <= 5)
    )


class Redactor:
    """Callable as a structlog processor; `update()` swaps the known secrets on reload."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._by_prefix: dict[str, tuple[str, ...]] = {}
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Indexes secrets by their first characters: a log line is then checked in one
        pass over its own length, not once per secret (a thousand API keys at scale).
        A secret that is a URL brings its pieces along (`url_pieces`)."""
        known = set(secrets)
        known.update(piece for secret in list(known) for piece in url_pieces(secret))
        index: dict[str, list[str]] = {}
        for secret in {s for s in known if len(s) >= _MIN_SECRET_LENGTH}:
            index.setdefault(secret[:_MIN_SECRET_LENGTH], []).append(secret)
        # Longest first, so a URL is masked whole before a key inside it is.
        self._by_prefix = {
            prefix: tuple(sorted(group, key=len, reverse=True)) for prefix, group in index.items()
        }

    def text(self, value: str) -> str:
        if self._by_prefix and len(value) >= _MIN_SECRET_LENGTH:
            found = {
                secret
                for i in range(len(value) - _MIN_SECRET_LENGTH + 1)
                for secret in self._by_prefix.get(value[i : i + _MIN_SECRET_LENGTH], ())
                if value.startswith(secret, i)
            }
            for secret in sorted(found, key=len, reverse=True):
                value = value.replace(secret, MASK)
        if "@" in value:
            value = _URL_CREDENTIALS.sub(rf"\g<scheme>{MASK}@", value)
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: MASK if _is_secret_key(k) else self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, BaseException):
            return self.text(str(value))
        return value

    def __call__(
        self, logger: object, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, item in list(event_dict.items()):
            event_dict[key] = MASK if _is_secret_key(key) else self.value(item)
        return event_dict


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))
