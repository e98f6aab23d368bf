"""Hostile config and state files for tests/hostile/test_config_state.py, and a way to run
`alertd` that also reports the child's own peak RSS and wall time."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from support.cli import clean_environ


def billion_laughs(levels: int) -> str:
    """`levels` anchors, each a list of ten aliases of the one before: 10**levels strings
    from a few hundred bytes. The last one is a provider's threshold, as a user's typo might."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines.extend(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels))
    lines.append(f"providers: {{x: {{type: browser7, api_key: k, warning: *a{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Measured:
    code: int | None  # None: killed at the deadline
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mib: float


def _high_water_mib(pid: int) -> float | None:
    """VmHWM of the process now: its own peak RSS (wait4's ru_maxrss would count the test
    process too, whose memory the child had between fork and exec)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def run_measured(*args: str, cwd: Path, timeout: float) -> Measured:
    """`python -m alertd ARGS`, its peak RSS sampled every 20 ms, killed after `timeout`."""
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
    start = time.monotonic()
    peak, killed = 0.0, False
    while proc.poll() is None:
        if time.monotonic() - start > timeout:
            proc.kill()
            killed = True
            proc.wait(timeout=10)
            break
        peak = max(peak, _high_water_mib(proc.pid) or 0.0)
        time.sleep(0.02)
    seconds = time.monotonic() - start
    return Measured(
        None if killed else proc.returncode,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
        seconds,
        peak,
    )
