"""Where alertd remembers (SPEC §6): see `alertd.store.base` for the interface.

`open_store(url)` picks the implementation from the `store:` URL (`alertd.store.url`):
none → memory only, `sqlite:` → the embedded file, `postgresql:` → the shared store of HA,
each imported only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime

from alertd.store.base import Store, StoreError
from alertd.store.url import POSTGRESQL, display, parse_store_url

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def open_store(url: str | None, clock: Clock = _utcnow) -> Store:
    """The store `url` names, not opened yet (`await store.open()` next). StoreError, with
    the URL shown without its password, when it names none alertd can use."""
    if url is None:
        from alertd.store.memory import MemoryStore

        return MemoryStore()
    try:
        parsed = parse_store_url(url)
    except ValueError as exc:
        raise StoreError(f"store {display(url)}: {exc}") from None
    if parsed.kind == POSTGRESQL:
        return _postgresql(url, clock)
    from alertd.store.sqlite import SqliteStore

    assert parsed.path is not None
    return SqliteStore(parsed.path, parsed.display(), clock)


def _postgresql(url: str, clock: Clock) -> Store:
    """`alertd.store.postgres.from_url(url, clock)`, when this build has it."""
    try:
        module = importlib.import_module("alertd.store.postgres")
    except ModuleNotFoundError as exc:
        if exc.name == "alertd.store.postgres":
            raise StoreError(
                f"store {display(url)}: the postgresql store is not available in this build"
            ) from None
        raise StoreError(
            f"store {display(url)}: the postgresql store needs the Python package {exc.name}"
        ) from None
    store: Store = module.from_url(url, clock)
    return store
