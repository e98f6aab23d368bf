"""Apprise URL checks and their privacy form, kept apart so `import apprise` stays lazy."""

from __future__ import annotations

from collections.abc import Sequence

import apprise
from pydantic import SecretStr


def invalid_urls(urls: Sequence[SecretStr]) -> list[tuple[int, str]]:
    """(index, scheme) of each URL Apprise refuses; the scheme is the only part shown."""
    bad = []
    for index, url in enumerate(urls):
        text = url.get_secret_value()
        if not apprise.Apprise().add(text):
            scheme = text.split("://", 1)[0] if "://" in text else "none"
            bad.append((index, scheme[:20]))
    return bad


def privacy_form(url: SecretStr) -> str:
    """The URL as Apprise shows it with credentials masked."""
    plugin = apprise.Apprise.instantiate(url.get_secret_value())
    if not plugin:
        return "<invalid URL>"
    return str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
