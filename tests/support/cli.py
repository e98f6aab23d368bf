"""Runs `alertd` as a user would: a separate process, its own environment, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Variables that would change what alertd does from outside the test's control.
_LEAKY_PREFIXES = ("ALERTD_",)
_LEAKY_NAMES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_LEAKY_PREFIXES) and key.lower() not in _LEAKY_NAMES
    }
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_alertd(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Result:
    """`python -m alertd ARGS` with JSON logs (stderr is not a terminal here anyway)."""
    proc = subprocess.run(
        [sys.executable, "-m", "alertd", *args],
        cwd=cwd,
        env=clean_environ(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
