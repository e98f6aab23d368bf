"""What the operations tests drive: the simulator in a thread, `alertd run` as a subprocess.

`SimulatorThread` runs `alertd.simulator.Simulator` on its own asyncio loop in a daemon
thread; tests change its `Account` objects while the daemon polls them. `DaemonProcess` is
`python -m alertd run -c CONFIG --log-format json`; its stderr goes to a file and is read
back as JSON events, so tests wait on what the daemon said (polls, deliveries, reloads)
with deadlines instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from alertd.simulator import Account, Simulator

T = TypeVar("T")
POLL_EVENTS = ("poll", "poll_failed")
ALERTD_RUN = (sys.executable, "-m", "alertd", "run")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    message: str | Callable[[], str] = "condition",
    interval: float = 0.05,
) -> T:
    """Calls `predicate` until it returns something truthy (which is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g}s waiting for {text}")
        time.sleep(interval)


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (for the daemon's own listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the simulator ------------------------------------------------------------------------------


class SimulatorThread:
    """The provider simulator on its own event loop in a background thread."""

    def __init__(self) -> None:
        self.sim = Simulator()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim", daemon=True)

    def start(self) -> SimulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(0), self.loop).result(timeout=10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.sim.stop()
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:  # a hanging account's handler sleeps for an hour
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self.loop.is_running():
                self.loop.close()

    def account(self, name: str, kind: str, balance: int | str | Decimal) -> Account:
        """Adds an account (safe while the daemon runs: the dict is only read by the loop)."""
        return self.sim.add(Account(name, kind, f"key-{name}", Decimal(str(balance))))

    def __getitem__(self, name: str) -> Account:
        return self.sim.accounts[name]

    def provider(self, name: str, **settings: Any) -> dict[str, Any]:
        """A config entry watching account `name`; `settings` adds thresholds and the like."""
        account = self.sim.accounts[name]
        return {
            "type": account.type,
            "api_key": account.api_key,
            "base_url": self.sim.base_url(name),
            **settings,
        }


def write_config(
    path: Path,
    providers: Mapping[str, Mapping[str, Any]],
    notifiers: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    **top: Any,
) -> Path:
    """Writes a config as JSON (a subset of YAML), atomically: a reload never sees half a file.

    Defaults are 1 s intervals, no jitter, a 2 s timeout and a single delivery attempt's
    worth of patience; `top` adds top-level keys such as `state_file` and `http`.
    """
    config = {
        "defaults": {"interval": "1s", "jitter": 0, "timeout": "2s", **(defaults or {})},
        "notifiers": dict(notifiers),
        "providers": {name: dict(body) for name, body in providers.items()},
        **top,
    }
    write_text(path, json.dumps(config, indent=2, default=str) + "\n")
    return path


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- the daemon ---------------------------------------------------------------------------------


class DaemonProcess:
    """`alertd run` in a subprocess; its JSON log (stderr) readable as a list of events."""

    def __init__(self, config: Path, workdir: Path, name: str = "daemon") -> None:
        self.config = config
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTD_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*ALERTD_RUN, "-c", str(self.config), "--log-format", "json"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=self.config.parent,
            )
        return self

    # reading the log ---------------------------------------------------------------------------
    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def events(
        self, event: str | Iterable[str] | None = None, **match: Any
    ) -> list[dict[str, Any]]:
        """JSON log records (a half-written last line is skipped), filtered by event and fields."""
        wanted = {event} if isinstance(event, str) else set(event) if event else None
        found = []
        for line in self.stderr.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if wanted is not None and record.get("event") not in wanted:
                continue
            if all(record.get(k) == v for k, v in match.items()):
                found.append(record)
        return found

    def polls(self, provider: str) -> int:
        return len(self.events(POLL_EVENTS, provider=provider))

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.stderr.splitlines()[-lines:])

    # waiting -----------------------------------------------------------------------------------
    def assert_running(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        assert code is None, f"alertd exited with {code}:\n{self.tail()}"

    def wait_for(
        self, event: str | Iterable[str], timeout: float = 10, count: int = 1, **match: Any
    ) -> list[dict[str, Any]]:
        def seen() -> list[dict[str, Any]]:
            self.assert_running()
            found = self.events(event, **match)
            return found if len(found) >= count else []

        return wait_until(seen, timeout, lambda: f"{count}x {event} {match}:\n{self.tail()}")

    def wait_for_polls(self, providers: Iterable[str], more: int = 1, timeout: float = 10) -> None:
        """Until each provider has been polled `more` times more than now."""
        targets = {name: self.polls(name) + more for name in providers}

        def done() -> bool:
            self.assert_running()
            return all(self.polls(name) >= want for name, want in targets.items())

        wait_until(
            done,
            timeout,
            lambda: (
                f"polls {targets} (have { {n: self.polls(n) for n in targets} }):\n" + self.tail()
            ),
        )

    def wait_started(self, providers: Iterable[str], timeout: float = 20) -> None:
        self.wait_for("started", timeout=timeout)
        self.wait_for_polls(providers, 1, timeout=timeout)

    # signals -----------------------------------------------------------------------------------
    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def sigkill(self) -> None:
        """A crash: no clean stop, no final save."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        """Teardown: whatever state it is in, the process is gone afterwards."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
