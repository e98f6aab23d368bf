"""What the end-to-end tests drive: the simulator in a thread, the daemon as a subprocess.

`SimulatorThread` runs `alertd.simulator.Simulator` on its own asyncio loop in a background
thread; tests change its `Account` objects (or POST /_control) while the daemon runs.
`DaemonProcess` is `python -m alertd run -c CONFIG --log-format json` with stdout and stderr
captured to files; its JSON log is read back as data (`events()`), so tests wait for polls
by counting "poll" events rather than sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from alertd.simulator import Account, Simulator

T = TypeVar("T")

POLL_EVENTS = ("poll", "poll_failed")

# -- the test fleet: one account per provider type, sentinel secrets ----------------------------

SMTP_USER = "alertd"
SMTP_PASSWORD = "SENTINEL-PW-5e0c2a9b"
SENTINEL = "SENTINEL-"

USD_TYPES = ("browser7", "youcom", "decaptcha")
CREDIT_TYPES = ("lobstr", "srtgen")

# (warning, critical) in each provider's unit.
THRESHOLDS: dict[str, tuple[Decimal, Decimal]] = {
    **{kind: (Decimal(10), Decimal(2)) for kind in USD_TYPES},
    **{kind: (Decimal(2000), Decimal(500)) for kind in CREDIT_TYPES},
}
HEALTHY = {**{k: Decimal(100) for k in USD_TYPES}, **{k: Decimal(8000) for k in CREDIT_TYPES}}


def api_key(kind: str) -> str:
    return f"SENTINEL-KEY-{kind}-9f31d7"


RunDaemon = Callable[..., "DaemonProcess"]  # the run_daemon fixture


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    message: str | Callable[[], str] = "condition",
    interval: float = 0.05,
) -> T:
    """Polls `predicate` until it returns something truthy (returned); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {text}")
        time.sleep(interval)


# -- the simulator ------------------------------------------------------------------------------


class SimulatorThread:
    """The provider simulator on its own event loop in a daemon thread."""

    def __init__(self, accounts: Iterable[Account] = ()) -> None:
        self.sim = Simulator(list(accounts))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> SimulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(0), self.loop).result(timeout=10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.sim.stop()
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:  # hanging handlers (hang: true) sleep for an hour
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self.loop.is_running():
                self.loop.close()

    @property
    def accounts(self) -> dict[str, Account]:
        return self.sim.accounts

    def add(self, account: Account) -> Account:
        return self.sim.add(account)

    def base_url(self, name: str) -> str:
        return self.sim.base_url(name)

    def requests(self, name: str) -> int:
        return self.sim.accounts[name].requests

    def control(self, name: str, **changes: Any) -> dict[str, Any]:
        """POST /_control/<account>: the simulator's own control API, over HTTP."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.sim.port}/_control/{name}",
            data=json.dumps(changes).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result


# -- config -------------------------------------------------------------------------------------


def config_text(
    sim: SimulatorThread,
    notifiers: Mapping[str, str | list[str] | Mapping[str, Any]],
    thresholds: Mapping[str, tuple[Decimal | int | str, Decimal | int | str]],
    defaults: Mapping[str, Any] | None = None,
    per_provider: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """A YAML config watching every simulated account, with thresholds per provider type.

    Values go through json.dumps, which is valid YAML, so URLs with `?` and `&` are safe.
    """
    base = {"interval": "1s", "jitter": 0, "timeout": "2s"}
    lines = ["defaults:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in {**base, **(defaults or {})}.items()]
    lines.append("notifiers:")
    lines += [f"  {name}: {json.dumps(value)}" for name, value in notifiers.items()]
    lines.append("providers:")
    for account in sim.accounts.values():
        warning, critical = thresholds[account.type]
        body: dict[str, Any] = {
            "type": account.type,
            "api_key": account.api_key,
            "base_url": sim.base_url(account.name),
            "warning": str(warning),
            "critical": str(critical),
            **(per_provider or {}).get(account.name, {}),
        }
        lines.append(f"  {account.name}:")
        lines += [f"    {k}: {json.dumps(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


# -- the daemon ---------------------------------------------------------------------------------


class DaemonProcess:
    """`alertd run` in a subprocess, its output in files, its JSON log readable as events."""

    def __init__(self, config: Path, workdir: Path, extra_args: Iterable[str] = ()) -> None:
        self.config = config
        self.extra_args = list(extra_args)
        self.stdout_path = workdir / "daemon.stdout"
        self.stderr_path = workdir / "daemon.stderr"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTD_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            command = [sys.executable, "-m", "alertd", "run", "-c", str(self.config)]
            self.proc = subprocess.Popen(
                [*command, "--log-format", "json", *self.extra_args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=self.config.parent,
            )
        return self

    # output ------------------------------------------------------------------------------------
    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def events(
        self, event: str | Iterable[str] | None = None, **match: Any
    ) -> list[dict[str, Any]]:
        """JSON log lines (a partly written last line is skipped), filtered by event and fields."""
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
        """Polls of one provider so far, successful or not."""
        return len(self.events(POLL_EVENTS, provider=provider))

    def tail(self, lines: int = 25) -> str:
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

        return wait_until(
            seen, timeout, lambda: f"{count}x {event} {match} in the log:\n{self.tail()}"
        )

    def wait_for_polls(self, providers: Iterable[str], more: int, timeout: float = 15) -> None:
        """Waits until each provider has been polled `more` more times than now."""
        targets = {name: self.polls(name) + more for name in providers}

        def done() -> bool:
            self.assert_running()
            return all(self.polls(name) >= target for name, target in targets.items())

        wait_until(
            done,
            timeout,
            lambda: (
                f"{more} more polls of {sorted(targets)} (have "
                f"{ {n: self.polls(n) for n in targets} }, want {targets}):\n{self.tail()}"
            ),
        )

    def wait_started(self, providers: Iterable[str], timeout: float = 20) -> None:
        """The daemon said `started` and polled every provider once."""
        self.wait_for("started", timeout=timeout)
        self.wait_for_polls(providers, 1, timeout=timeout)

    # stopping ----------------------------------------------------------------------------------
    def send_signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15) -> int:
        self.send_signal(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        """Teardown: whatever state it is in, the process is gone afterwards."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
