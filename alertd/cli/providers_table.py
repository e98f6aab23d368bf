"""`alertd providers`: every built-in type (code, the generic http_json, each preset), what it
watches, where its API key goes and the provider's documentation, with no config needed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from alertd.cli.check_table import aligned
from alertd.config.types import format_duration
from alertd.providers import PRESETS, REGISTRY
from alertd.providers.http_json import HttpJson


@dataclass(frozen=True)
class TypeRow:
    type: str
    kind: str  # "code", "generic" or "preset"
    title: str
    key: str
    docs: str
    min_interval: str | None = None


def type_rows() -> list[TypeRow]:
    """The code types in registry order, then the presets by name."""
    rows = []
    for name, cls in REGISTRY.items():
        preset = PRESETS.get(name)
        kind = "preset" if preset else "generic" if cls is HttpJson else "code"
        minimum = format_duration(preset.min_interval) if preset else None
        rows.append(TypeRow(name, kind, cls.title, cls.key_placement(), cls.docs_url, minimum))
    return rows


def as_json(rows: Iterable[TypeRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]


def as_table(rows: Iterable[TypeRow]) -> str:
    header = ("TYPE", "KIND", "WATCHES", "KEY GOES IN", "DOCS")
    return aligned([header, *((r.type, r.kind, r.title, r.key, r.docs) for r in rows)])
