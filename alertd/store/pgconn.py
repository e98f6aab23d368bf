"""Connecting to PostgreSQL the same way everywhere (store, lease, claims), and saying what
went wrong without ever showing the password.

No session-level state, so alertd works behind PgBouncer's transaction pooling (SPEC §7):
every statement runs in autocommit or in one explicit transaction, nothing is prepared
(`prepare_threshold=None`), no `SET`, no advisory lock, no temp table. Timeouts are the
client's (every call is bounded by `asyncio.wait_for`), plus TCP keepalives and
`tcp_user_timeout` so that a dead peer is noticed in seconds, not in the kernel's two hours.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

CONNECT_TIMEOUT_S = 5
TCP_USER_TIMEOUT_MS = 10_000


def connect_kwargs(application_name: str) -> dict[str, Any]:
    """Keyword arguments of every connection alertd opens (pool or single)."""
    return {
        "autocommit": True,
        "prepare_threshold": None,  # no server-side prepared statements: PgBouncer-safe
        "application_name": application_name[:63],
        "connect_timeout": CONNECT_TIMEOUT_S,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }


def password_of(url: str) -> str | None:
    """The password in a URL or conninfo string (to redact it), None when there is none."""
    try:
        value = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        value = urlsplit(url).password
    return str(value) if value else None


def describe(url: str) -> str:
    """The URL as logs and errors show it: user, host, port and database, never the password."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        return "postgresql (connection string)"
    host = parts.hostname or "localhost"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def explain(exc: BaseException, url: str) -> str:
    """One line: what failed, with the password (if the server echoed it) masked."""
    if isinstance(exc, TimeoutError):
        text = "no answer in time"
    else:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    secret = password_of(url)
    if secret:
        text = text.replace(secret, "***")
    return f"{type(exc).__name__}: {text}"[:300]
