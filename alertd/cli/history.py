"""`alertd history NAME [--since 7d] [--json|--csv]` and the store reads `check` needs.

Both read the store the daemon writes (`store:`), from another process: SQLite in WAL mode
serves readers beside its writer. A store file that does not exist yet is not created by a
read: the command says there is no history instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from alertd.cli import history_view
from alertd.config.loader import Settings
from alertd.config.rules import rules_of
from alertd.core.burn import project, replay
from alertd.core.series import Sample
from alertd.store import open_store
from alertd.store.base import History, Store, StoreError
from alertd.store.url import SQLITE, parse_store_url


class NoHistory(Exception):
    """Why there is no history to read (one line for the user)."""


def _store_to_read(settings: Settings) -> Store:
    url = settings.config.store_url()
    if url is None:
        raise NoHistory(
            "no store: configured: the daemon keeps history in memory only (see README, Store)"
        )
    parsed = parse_store_url(url)
    if parsed.kind == SQLITE and parsed.path is not None and not parsed.path.exists():
        raise NoHistory(f"no history yet: {parsed.display()} does not exist (has alertd run?)")
    return open_store(url)


async def _read(
    settings: Settings, name: str, since: datetime, now: datetime
) -> tuple[History, list[Sample]]:
    store = _store_to_read(settings)
    await store.open()
    try:
        window = rules_of(settings.config, name).forecasting.burn_window
        history = await store.history(name, since)
        recent = await store.load_samples({name: now - window})
        return history, recent.get(name, [])
    finally:
        await store.close()


async def recent_samples(settings: Settings, now: datetime) -> Mapping[str, list[Sample]]:
    """Each provider's last `burn_window` of readings, for `check`'s RUNWAY column; empty
    when there is no store (or no file yet) to read."""
    try:
        store = _store_to_read(settings)
    except NoHistory:
        return {}
    await store.open()
    try:
        since = {
            name: now - rules_of(settings.config, name).forecasting.burn_window
            for name in settings.config.providers
        }
        return await store.load_samples(since)
    finally:
        await store.close()


def show(settings: Settings, name: str, since: timedelta, fmt: str, now: datetime) -> str:
    """The text `alertd history` prints. ValueError for an unknown provider, NoHistory and
    StoreError for a store that cannot be read."""
    if name not in settings.config.providers:
        known = ", ".join(settings.config.providers) or "none"
        raise ValueError(f"no provider named '{name}' in {settings.path} (known: {known})")
    start = now - since
    history, recent = asyncio.run(_read(settings, name, start, now))
    window = rules_of(settings.config, name).forecasting.burn_window
    forecast = project(replay(recent, window), window, now) if recent else None
    if fmt == "json":
        return json.dumps(history_view.as_json(name, history, forecast), indent=2)
    if fmt == "csv":
        return history_view.as_csv(history).rstrip("\n")
    return history_view.as_text(name, history, forecast, start)


__all__ = ["NoHistory", "StoreError", "recent_samples", "show"]
