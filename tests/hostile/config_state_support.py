"""Hostile config and state files for tests/hostile/test_config_state.py, and a way to run
`alertd` that also reports the child's own peak RSS and wall time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from support.cli import clean_environ


def billion_laughs(levels: int) -> str:
    """`levels` anchors, each a list of ten aliases of the one before: 10**levels strings
    from a few hundred bytes. The last one is a provider's threshold, as a user's typo might."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]")
    lines.append(f"providers: {{x: {{type: browser7, api_key: k, warning: *a{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Measured:
    code: int | None  # None: killed at the deadline
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mib: float


def run_measured(*args: str, cwd: Path, timeout: float) -> Measured:
    """`python -m alertd ARGS`; its peak RSS from wait4 (this child only, not the test's other
    children), killed after `timeout` seconds."""
    out, err = cwd / "measured.stdout", cwd / "measured.stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "alertd", *args],
            cwd=cwd,
            env=clean_environ(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    start = time.monotonic()
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    return Measured(
        None if killed.is_set() else proc.returncode,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
        seconds,
        usage.ru_maxrss / 1024,
    )
