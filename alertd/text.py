"""Text from outside (a provider's error, a config value) made safe to show a person.

A provider can answer with ANSI escapes or newlines in an error message; printed as is, it
would recolour a terminal or forge a row of `alertd check`'s table. Every human-facing output
passes foreign text through `printable` first.
"""

from __future__ import annotations

import unicodedata

MAX_SHOWN = 200


def printable(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` on one line, every control or format character shown as an escape, cut to
    `limit` characters with an ellipsis."""
    shown = "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _unsafe(ch: str) -> bool:
    """Controls (ESC, CR, LF, TAB), invisible formatting (bidi overrides), line separators."""
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES or (ch.isspace() and ch != " ")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
