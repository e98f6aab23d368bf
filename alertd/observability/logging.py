"""structlog for our events and for stdlib loggers (APScheduler, httpx, Apprise) alike.

JSON lines when stderr is not a terminal, a console renderer when it is. Tracebacks are
rendered without local variables: they once carried an `api_key` argument into a log.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from alertd.observability.redact import Redactor

LogFormat = Literal["json", "console"]
REDACTOR = Redactor()

# Chatty or dangerous libraries, kept at WARNING whatever `--log-level` says: httpx logs full
# URLs at INFO, Apprise logs credentials at DEBUG, urllib3 (under Apprise's requests) logs each
# request line, path and query tokens included, at DEBUG.
_QUIET_LOGGERS = {
    "urllib3": logging.WARNING,
    "requests": logging.WARNING,
    "apscheduler": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apprise": logging.WARNING,
    "asyncio": logging.WARNING,
    "mail.log": logging.WARNING,
    # psycopg's pool warns at every failed reconnection while PostgreSQL is down; alertd logs
    # the outage itself, once, on each transition (database_unreachable, store_write_failed).
    "psycopg": logging.ERROR,
}


def default_format() -> LogFormat:
    return "console" if sys.stderr.isatty() else "json"


def configure(fmt: LogFormat | None = None, level: str = "info") -> None:
    """Idempotent: safe to call again (tests, reload)."""
    fmt = fmt or default_format()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if fmt == "json":
        tail: list[Any] = [
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            REDACTOR,
        ]
        renderer = structlog.processors.JSONRenderer()
    else:
        # Render the traceback to text first so the redactor sees it too.
        tail = [structlog.processors.format_exc_info, REDACTOR]
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, floor in _QUIET_LOGGERS.items():
        lib = logging.getLogger(name)
        lib.setLevel(max(floor, root.level))


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("alertd").bind(**bound)
