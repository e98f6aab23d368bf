"""Writing config files and reading back the one-line problems `load` (config.loader) reports."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from alertd.config.loader import Settings, load
from alertd.errors import ConfigError


def write_config(directory: Path, text: str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_text(directory: Path, text: str) -> Settings:
    return load(write_config(directory, text))


def problems_of(directory: Path, text: str) -> list[str]:
    """The lines of the ConfigError that loading `text` raises (fails the test if none)."""
    path = write_config(directory, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    lines = caught.value.problems
    assert str(caught.value) == "\n".join(lines)
    for line in lines:
        assert "\n" not in line
    return lines


def scrub_alertd_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Removes ALERTD_* variables so that the environment layer holds only what a test sets."""
    for key in list(os.environ):
        if key.startswith("ALERTD_"):
            monkeypatch.delenv(key)
