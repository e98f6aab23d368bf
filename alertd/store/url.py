"""The `store:` URL (SPEC §6): which store, and where. No IO here: the config layer checks a
URL with it, `open_store` reads it.

    sqlite:///var/lib/alertd/alertd.db   an absolute path: three slashes, then the path
                                          (SQLAlchemy's four slashes mean the same)
    sqlite:alertd.db                      a relative path (no slashes after the colon),
                                          relative to alertd's working directory
    postgresql://user:password@host/db    the shared store of HA (SPEC §7); also postgres://

Errors and `display()` never show a password: a URL may carry one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from alertd.text import printable

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_PASSWORD_OPTION = re.compile(r"((?:^|&)password=)[^&]*", re.I)
_SCHEMES = {"sqlite": SQLITE, "postgresql": POSTGRESQL, "postgres": POSTGRESQL}
EXAMPLE = "sqlite:///var/lib/alertd/alertd.db"


@dataclass(frozen=True, slots=True)
class StoreUrl:
    kind: str  # SQLITE or POSTGRESQL
    url: str  # as written (may hold a password: never shown)
    path: Path | None = None  # SQLite's database file

    def display(self) -> str:
        return display(self.url)


def parse_store_url(text: str) -> StoreUrl:
    """The store a URL names; ValueError (a message without the URL's password) otherwise."""
    scheme, sep, rest = text.strip().partition(":")
    kind = _SCHEMES.get(scheme.lower()) if sep else None
    if kind is None:
        shown = f"'{printable(scheme, 20)}' is not" if sep else "it has no scheme: it is not"
        raise ValueError(
            f"{shown} a store URL; use {EXAMPLE} (a file) or postgresql://HOST/DB (shared, HA)"
        )
    if kind == POSTGRESQL:
        if not rest.startswith("//"):
            raise ValueError("a postgresql URL is written postgresql://[USER[:PASSWORD]@]HOST/DB")
        return StoreUrl(kind, text.strip())
    return StoreUrl(kind, text.strip(), _sqlite_path(rest))


def _sqlite_path(rest: str) -> Path:
    if rest.startswith("//"):
        parts = urlsplit(f"sqlite:{rest}")
        if parts.netloc:
            raise ValueError(
                f"sqlite URL names a host ('{printable(parts.netloc, 40)}'): write"
                " sqlite:///ABSOLUTE/PATH.db (three slashes) or sqlite:RELATIVE/PATH.db"
            )
        path = parts.path
        query, fragment = parts.query, parts.fragment
    else:
        path, _, query = rest.partition("?")
        path, _, fragment = path.partition("#")
    if query or fragment:
        raise ValueError("sqlite URL takes no options (nothing after '?' or '#')")
    path = unquote(path)
    if not path or path.endswith("/"):
        raise ValueError(f"sqlite URL names no database file; e.g. {EXAMPLE}")
    if "\x00" in path:
        raise ValueError("sqlite URL has a NUL character in its path")
    if path.startswith("//"):  # SQLAlchemy's spelling of an absolute path: four slashes
        path = "/" + path.lstrip("/")
    return Path(path)


def display(url: str) -> str:
    """The URL fit for logs and errors: a password (in the user part, or a libpq
    `password=` option) replaced by `***`."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = _PASSWORD_OPTION.sub(r"\1***", parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return printable(url.partition("#")[0], 300)
    return printable(urlunsplit((parts.scheme, netloc, parts.path, query, "")), 300)
