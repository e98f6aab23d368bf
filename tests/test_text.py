"""Foreign text shown to a person: one line, no terminal escapes, bounded."""

from __future__ import annotations

import pytest

from alertd.text import printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("credentials rejected", "credentials rejected"),
        ("bad\x1b[31mred", "bad\\x1b[31mred"),
        ("row\nFAKE  OK", "row\\x0aFAKE  OK"),
        ("tab\there", "tab\\x09here"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("line\u2028sep", "line\\u2028sep"),
        ("crédits ¥ 残高", "crédits ¥ 残高"),
    ],
)
def test_control_and_format_characters_are_escaped(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_long_text_is_cut_with_an_ellipsis() -> None:
    assert printable("x" * 500, limit=10) == "x" * 9 + "…"
