"""`alertd run` as a subprocess against the provider simulator in a thread: what the e2e, ops
and fault suites drive.

`SimulatorThread` runs `alertd.demo.simulator.Simulator` on its own asyncio loop in a daemon
thread. Tests change its `Account` objects directly, over its HTTP control API (`control`),
on its own loop (`set`), or right before an account's N-th request is answered (`script`: a
provider that flaps at every poll).

`DaemonProcess` is `python -m alertd run -c CONFIG --log-format json`, stdout and stderr
captured to files; its JSON log is read back as data (`events()`), so tests wait for polls
by counting "poll" events, with deadlines (`wait_until`), instead of sleeping. `daemons()`
starts as many as a test wants and makes sure none outlives it.

`config_text` / `write_config` write the config a daemon runs on.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiohttp import web

from alertd.demo.simulator import Account, Simulator

T = TypeVar("T")
Script = Callable[[Account, int], None]

POLL_EVENTS = ("poll", "poll_failed")
ALERTD_RUN = (sys.executable, "-m", "alertd", "run")
# Every test daemon polls each second, without jitter, and gives up on a request after 2 s.
BASE_DEFAULTS: dict[str, Any] = {"interval": "1s", "jitter": 0, "timeout": "2s"}


def wait_until(
    predicate: Callable[[], T | None],
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


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (for the daemon's own listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- config -------------------------------------------------------------------------------------


def config_text(
    providers: Mapping[str, Mapping[str, Any]],
    notifiers: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    **top: Any,
) -> str:
    """A config as YAML: block mappings, each leaf value in JSON (valid YAML, so URLs with `?`
    and `&` are safe). `BASE_DEFAULTS` under `defaults`; `top` adds top-level keys such as
    `store` and `http`."""
    config = {
        "defaults": {**BASE_DEFAULTS, **(defaults or {})},
        "notifiers": dict(notifiers),
        "providers": {name: dict(body) for name, body in providers.items()},
        **top,
    }
    return "\n".join(_yaml_lines(config)) + "\n"


def _yaml_lines(mapping: Mapping[str, Any], indent: str = "") -> Iterator[str]:
    for key, value in mapping.items():
        head = f"{indent}{json.dumps(str(key))}:"
        if isinstance(value, Mapping) and value:
            yield head
            yield from _yaml_lines(value, indent + "  ")
        else:
            yield f"{head} {json.dumps(value, default=str)}"


def write_text(path: Path, text: str) -> Path:
    """Writes `text` atomically: a daemon reloading `path` never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_config(
    path: Path,
    providers: Mapping[str, Mapping[str, Any]],
    notifiers: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    **top: Any,
) -> Path:
    """`config_text(...)` written to `path`, atomically."""
    return write_text(path, config_text(providers, notifiers, defaults, **top))


# -- the simulator ------------------------------------------------------------------------------


class ScriptedSimulator(Simulator):
    """A Simulator whose accounts can be changed right before their N-th request is answered."""

    def __init__(self, accounts: list[Account]) -> None:
        super().__init__(accounts)
        self.scripts: dict[str, Script] = {}

    async def handle(self, request: web.BaseRequest) -> web.Response:
        name = request.path.lstrip("/").partition("/")[0]
        script, account = self.scripts.get(name), self.accounts.get(name)
        if script is not None and account is not None:
            script(account, account.requests + 1)  # runs on the simulator's loop: no race
        return await super().handle(request)


class SimulatorThread:
    """The provider simulator on its own event loop in a daemon thread; a context manager."""

    def __init__(self, accounts: Iterable[Account] = ()) -> None:
        self.sim = ScriptedSimulator(list(accounts))
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

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # accounts ----------------------------------------------------------------------------------
    @property
    def accounts(self) -> dict[str, Account]:
        return self.sim.accounts

    def __getitem__(self, name: str) -> Account:
        return self.sim.accounts[name]

    def add(self, account: Account) -> Account:
        """Adds an account (safe while the daemon runs: the dict is only read by the loop)."""
        return self.sim.add(account)

    def account(self, name: str, kind: str, balance: int | str | Decimal) -> Account:
        """Adds an account of type `kind` with the API key `key-<name>`."""
        return self.add(Account(name, kind, f"key-{name}", Decimal(str(balance))))

    def base_url(self, name: str) -> str:
        return self.sim.base_url(name)

    def requests(self, name: str) -> int:
        return self.sim.accounts[name].requests

    # changing accounts -------------------------------------------------------------------------
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

    def set(self, name: str, **changes: Any) -> None:
        """Changes an account on the simulator's own loop (the next request sees all of it)."""
        done = threading.Event()

        def apply() -> None:
            for key, value in changes.items():
                setattr(self.sim.accounts[name], key, value)
            done.set()

        self.loop.call_soon_threadsafe(apply)
        assert done.wait(5)

    def script(self, name: str, script: Script | None) -> None:
        """Runs `script(account, n)` before the n-th request of `name` is answered (None: off)."""

        def assign() -> None:
            if script is None:
                self.sim.scripts.pop(name, None)
            else:
                self.sim.scripts[name] = script

        self.loop.call_soon_threadsafe(assign)

    # config ------------------------------------------------------------------------------------
    def provider(self, name: str, **settings: Any) -> dict[str, Any]:
        """A config entry watching account `name`; `settings` adds thresholds and the like."""
        account = self.sim.accounts[name]
        return {
            "type": account.type,
            "api_key": account.api_key,
            "base_url": self.sim.base_url(name),
            **settings,
        }

    def config(
        self,
        notifiers: Mapping[str, Any],
        defaults: Mapping[str, Any],
        providers: Mapping[str, Mapping[str, Any]],
    ) -> str:
        """`config_text` watching the named accounts, each with its settings."""
        entries = {name: self.provider(name, **settings) for name, settings in providers.items()}
        return config_text(entries, notifiers, defaults)


# -- the daemon ---------------------------------------------------------------------------------


class DaemonProcess:
    """`alertd run` in a subprocess, its output in files, its JSON log readable as events.

    `poll_timeout` and `stop_timeout` are what `wait_for_polls` and `stop` wait when not told.
    """

    def __init__(
        self,
        config: Path,
        workdir: Path | None = None,
        *,
        name: str = "daemon",
        extra_args: Iterable[str] = (),
        poll_timeout: float = 15,
        stop_timeout: float = 15,
        nofile: int | None = None,
        wrapper: Iterable[str] = (),
    ) -> None:
        """`nofile` lowers RLIMIT_NOFILE (soft and hard) for the daemon, as systemd's default
        of 1,024 does for a service whose unit sets no LimitNOFILE=. `wrapper` is a command
        that runs the daemon's command line (its arguments) with `exec`: a mount namespace
        with a small or read-only file system, for instance."""
        self.config = config
        self.nofile = nofile
        self.wrapper = list(wrapper)
        self.extra_args = list(extra_args)
        workdir = config.parent if workdir is None else workdir
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.poll_timeout = poll_timeout
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTD_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    *self.wrapper,
                    *ALERTD_RUN,
                    *("-c", str(self.config), "--log-format", "json", *self.extra_args),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=self.config.parent,
                preexec_fn=None if self.nofile is None else self._lower_nofile,
            )
        return self

    def _lower_nofile(self) -> None:
        assert self.nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

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
        """JSON log lines in order (a partly written last line is skipped), filtered by event
        and fields."""
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

    def polls(self, provider: str) -> list[dict[str, Any]]:
        """The polls of one provider so far, successful ("poll") or not ("poll_failed")."""
        return self.events(POLL_EVENTS, provider=provider)

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
        """Until the log holds `count` such events (all of them returned)."""

        def seen() -> list[dict[str, Any]]:
            self.assert_running()
            found = self.events(event, **match)
            return found if len(found) >= count else []

        return wait_until(
            seen, timeout, lambda: f"{count}x {event} {match} in the log:\n{self.tail()}"
        )

    def wait_for_polls(
        self, providers: Iterable[str], more: int = 1, timeout: float | None = None
    ) -> None:
        """Until each provider has been polled `more` more times than now."""
        targets = {name: len(self.polls(name)) + more for name in providers}

        def have() -> dict[str, int]:
            return {name: len(self.polls(name)) for name in targets}

        def done() -> bool:
            self.assert_running()
            return all(count >= targets[name] for name, count in have().items())

        wait_until(
            done,
            self.poll_timeout if timeout is None else timeout,
            lambda: (
                f"{more} more polls of {sorted(targets)} (have {have()}, want {targets}):\n"
                + self.tail()
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

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float | None = None) -> int:
        """`sig`, then the exit status; past `timeout`, SIGKILL and the TimeoutExpired."""
        assert self.proc is not None
        self.proc.send_signal(sig)  # a no-op once it has exited
        try:
            return self.proc.wait(timeout=self.stop_timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise

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


class StartDaemon(Protocol):
    def __call__(self, config: Path, extra_args: Iterable[str] = ()) -> DaemonProcess: ...


@contextmanager
def daemons(workdir: Path, **options: Any) -> Iterator[StartDaemon]:
    """`start(config)` runs a `DaemonProcess` (its output in `workdir`, `options` passed on);
    on leaving, every daemon started is stopped (SIGTERM, then SIGKILL)."""
    started: list[DaemonProcess] = []

    def start(config: Path, extra_args: Iterable[str] = ()) -> DaemonProcess:
        name = f"daemon{len(started)}"
        daemon = DaemonProcess(config, workdir, name=name, extra_args=extra_args, **options)
        started.append(daemon)
        return daemon.start()

    try:
        yield start
    finally:
        for daemon in started:
            daemon.close()
