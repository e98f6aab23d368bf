"""A structlog processor that keeps secrets out of every log line, whatever logged them.

Three nets: known secret values (API keys, notifier URLs) replaced wherever they appear,
values of secret-named keys masked, and `user:password@` stripped from any URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(r"(api[_-]?key|token|password|passwd|secret|authorization)", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.I)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


class Redactor:
    """Callable as a structlog processor; `update()` swaps the known secrets on reload."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._by_prefix: dict[str, tuple[str, ...]] = {}
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Indexes secrets by their first characters: a log line is then checked in one
        pass over its own length, not once per secret (a thousand API keys at scale)."""
        index: dict[str, list[str]] = {}
        for secret in {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}:
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
