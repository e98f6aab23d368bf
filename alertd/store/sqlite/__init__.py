"""The embedded SQLite store: see `alertd.store.sqlite.store`."""

from alertd.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
