"""A pydantic error in words a user reads: one clause, never the value when it may be secret.

Shared by the config loader and the preset files, so both say the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alertd.text import printable

# Fields whose bad value is shown in an error: never a secret, never a URL.
SHOWN_LITERALS = {"min_severity": ("warning", "critical"), "method": ("GET", "POST")}


def shown_input(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str | None:
    """The value at `loc` when it may be shown (a provider type, a severity), escaped."""
    if not loc or loc[-1] not in SHOWN_LITERALS:
        return None
    value: Any = data
    for part in loc:
        if not isinstance(value, dict) or part not in value:
            return None  # set by the environment: not in the YAML data
        value = value[part]
    return printable(str(value), 60) if isinstance(value, str | int | float) else None


def describe(kind: str, msg: str, loc: tuple[int | str, ...], shown: str | None = None) -> str:
    if kind == "literal_error" and shown is not None:
        field = str(loc[-1])
        return f"'{shown}' is not a valid {field}; known: {', '.join(SHOWN_LITERALS[field])}"
    if kind in ("model_type", "dict_type") and len(loc) == 2 and loc[0] != "http":
        return (
            "should be a mapping of keys, not a single value (check the indentation: its keys"
            " go on the lines below it, indented further)"
        )
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch":
        return "names may only use lowercase letters, digits, '-' and '_'"
    return msg.removeprefix("Value error, ")
