"""What the outage tests run against: real servers on 127.0.0.1 and the daemon as a process.

`Webhook` is a tiny threaded HTTP receiver for Apprise `json://` URLs. Taking it `down()`
CLOSES its listening socket, so deliveries meet "connection refused" (not a polite 500);
`up()` listens again on the same port. `SimulatorThread` runs `alertd.simulator.Simulator`
on its own event loop in a background thread, with optional per-request scripts that set an
account's status or balance for the N-th request (a provider that flaps at every poll).
`DaemonProcess` is `python -m alertd run -c CONFIG --log-format json`; its JSON log lines are
read back as data, so tests count polls instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from alertd.httpserver import Request, Response
from alertd.simulator import Account, Simulator

T = TypeVar("T")
Script = Callable[[Account, int], None]


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str | Callable[[], str] = "condition",
    interval: float = 0.05,
) -> T:
    """Polls `predicate` until it returns something truthy (returned); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {text}")
        time.sleep(interval)


# -- webhook receiver ----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: Webhook


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # HTTP/1.0: one request per connection, nothing kept open while down

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = {"unparseable": raw.decode("utf-8", "replace")}
        self.server.owner.record(body if isinstance(body, dict) else {"unexpected": body})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


class Webhook:
    """Records POSTed JSON bodies; `down()` closes the listening socket, `up()` reopens it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._messages.append(body)

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)

    def about(self, provider: str) -> list[dict[str, Any]]:
        """Messages whose title names this provider: `[WARNING] provider: ...`."""
        return [m for m in self.messages if f"] {provider}: " in str(m.get("title"))]

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> Webhook:
        deadline = time.monotonic() + 10
        while True:
            try:
                server = _Server(("127.0.0.1", self.port), _Handler)
                break
            except OSError:  # the same port, freed a moment ago
                if self.port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        server.owner = self
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True, name="webhook")
        self._thread.start()
        return self

    def down(self) -> None:
        """Closes the listening socket: from now on a delivery gets "connection refused"."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def refuses_connections(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) != 0


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook().up()
    yield hook
    hook.down()


# -- the provider simulator in a thread -----------------------------------------------------------


class ScriptedSimulator(Simulator):
    """A Simulator whose accounts can be changed right before their N-th request is answered."""

    def __init__(self, accounts: list[Account]) -> None:
        super().__init__(accounts)
        self.scripts: dict[str, Script] = {}

    async def handle(self, request: Request) -> Response:
        name = request.path.lstrip("/").partition("/")[0]
        script, account = self.scripts.get(name), self.accounts.get(name)
        if script is not None and account is not None:
            script(account, account.requests + 1)  # runs on the simulator's loop: no race
        return await super().handle(request)


class SimulatorThread:
    def __init__(self, accounts: list[Account]) -> None:
        self.sim = ScriptedSimulator(accounts)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="sim")

    def start(self) -> SimulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(0), self.loop).result(timeout=10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.sim.stop()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    def account(self, name: str) -> Account:
        return self.sim.accounts[name]

    def script(self, name: str, script: Script | None) -> None:
        """Runs `script(account, n)` before the n-th request of `name` is answered (None: off)."""

        def assign() -> None:
            if script is None:
                self.sim.scripts.pop(name, None)
            else:
                self.sim.scripts[name] = script

        self.loop.call_soon_threadsafe(assign)

    def set(self, name: str, **changes: Any) -> None:
        """Changes an account on the simulator's own loop (the next request sees all of it)."""
        done = threading.Event()

        def apply() -> None:
            for key, value in changes.items():
                setattr(self.sim.accounts[name], key, value)
            done.set()

        self.loop.call_soon_threadsafe(apply)
        assert done.wait(5)

    def config(
        self,
        notifiers: Mapping[str, str],
        defaults: Mapping[str, Any],
        providers: Mapping[str, Mapping[str, Any]],
    ) -> str:
        """YAML (json.dumps values are valid YAML) watching the named accounts."""
        base = {"interval": "1s", "jitter": 0, "timeout": "2s"}
        lines = ["defaults:"]
        lines += [f"  {k}: {json.dumps(v)}" for k, v in {**base, **defaults}.items()]
        lines.append("notifiers:")
        lines += [f"  {name}: {json.dumps(url)}" for name, url in notifiers.items()]
        lines.append("providers:")
        for name, settings in providers.items():
            account = self.sim.accounts[name]
            body = {
                "type": account.type,
                "api_key": account.api_key,
                "base_url": self.sim.base_url(name),
                **settings,
            }
            lines.append(f"  {name}:")
            lines += [f"    {k}: {json.dumps(v)}" for k, v in body.items()]
        return "\n".join(lines) + "\n"


@pytest.fixture
def simulator() -> Iterator[Callable[[list[Account]], SimulatorThread]]:
    started: list[SimulatorThread] = []

    def start(accounts: list[Account]) -> SimulatorThread:
        sim = SimulatorThread(accounts).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


# -- the daemon as a subprocess --------------------------------------------------------------------

POLL_EVENTS = ("poll", "poll_failed")
LOG_JSON = ("--log-format", "json")


class DaemonProcess:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.log_path = config.parent / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTD_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "alertd", "run", "-c", str(self.config), *LOG_JSON],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.config.parent,
            )
        return self

    def events(
        self, event: str | tuple[str, ...] | None = None, **match: Any
    ) -> list[dict[str, Any]]:
        """JSON log lines in order (a half-written last line is skipped), filtered."""
        wanted = (event,) if isinstance(event, str) else event
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
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
        return self.events(POLL_EVENTS, provider=provider)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def assert_running(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        assert code is None, f"alertd exited with {code}:\n{self.tail()}"

    def wait_for_polls(self, providers: list[str], more: int, timeout: float = 20) -> None:
        """Until each provider was polled `more` more times than now."""
        targets = {name: len(self.polls(name)) + more for name in providers}

        def done() -> bool:
            self.assert_running()
            return all(len(self.polls(name)) >= n for name, n in targets.items())

        wait_until(done, timeout, lambda: f"{more} more polls of {providers}:\n{self.tail()}")

    def stop(self, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[[str], DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config_text: str) -> DaemonProcess:
        path = tmp_path / "config.yaml"
        path.write_text(config_text)
        process = DaemonProcess(path).start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc is not None and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(timeout=10)
