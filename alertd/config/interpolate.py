"""`${VAR}` and `${VAR:-default}` in every string of the config, before validation.

Not built into pydantic-settings. An unset variable without a default is an error naming
the variable and where it is used; `$${` is a literal `${`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


Location = tuple[str | int, ...]


def interpolate(
    data: Any,
    environ: Mapping[str, str],
    problems: list[tuple[Location, str]],
    where: Location = (),
) -> Any:
    """Returns `data` with references replaced; appends (location, message) per unset variable."""
    if isinstance(data, dict):
        return {
            key: interpolate(value, environ, problems, (*where, str(key)))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [
            interpolate(item, environ, problems, (*where, index)) for index, item in enumerate(data)
        ]
    if not isinstance(data, str) or "$" not in data:
        return data

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        problems.append((where, f"environment variable {name} is not set (and has no default)"))
        return ""

    return _REFERENCE.sub(replace, data)
