"""HA replicas for the tests and the takeover bench: several `alertd run` on one PostgreSQL
store, one simulator account and one webhook receiver (SPEC §7).

Every replica runs the same config but for its listener port (each its own file, so that
`/healthz` of each can be asked). Who leads is read from each replica's JSON log
(`role_changed`) or its `/healthz` body (`role`).
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from support.daemon import DaemonProcess, SimulatorThread, StartDaemon, free_port, wait_until
from support.daemon import write_config as write_config_file
from support.http_stub import HttpStub
from support.postgres import PostgresServer

ACCOUNT = "wallet"  # browser7: warning below $20, critical below $5
HA_TEST = {"lease": "4s", "renew": "1s", "claim_timeout": "8s"}


class Replicas:
    def __init__(
        self,
        workdir: Path,
        sim: SimulatorThread,
        webhook: HttpStub,
        server: PostgresServer,
        store_url: str,
        start: StartDaemon,
        *,
        ha: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self.sim = sim
        self.webhook = webhook
        self.server = server
        self.store_url = store_url
        self._start = start
        self.ha = dict(HA_TEST if ha is None else ha)
        self.defaults = dict(defaults or {})
        self.ports: dict[str, int] = {}
        self.procs: dict[str, DaemonProcess] = {}
        if ACCOUNT not in sim.accounts:
            sim.account(ACCOUNT, "browser7", 50)

    def start(self, name: str) -> DaemonProcess:
        port = self.ports.setdefault(name, free_port())
        config = write_config_file(
            self.workdir / f"config-{name}.yaml",
            {ACCOUNT: self.sim.provider(ACCOUNT, warning=20, critical=5)},
            {"hook": self.webhook.apprise_url},
            self.defaults,
            store=self.store_url,
            ha={**self.ha, "node": name},
            http={"listen": f"127.0.0.1:{port}"},
        )
        daemon = self._start(config)
        self.procs[name] = daemon
        return daemon

    # -- roles ---------------------------------------------------------------------------
    @staticmethod
    def role(daemon: DaemonProcess) -> str | None:
        """The role its log last announced (None before the first)."""
        changes = daemon.events("role_changed")
        return str(changes[-1]["role"]) if changes else None

    def leader(self, timeout: float = 30, among: list[str] | None = None) -> str:
        """The one running replica whose log says it leads (waits for exactly one)."""

        def one() -> str | None:
            names = [
                n
                for n in among or self.procs
                if self.procs[n].proc is not None
                and self.procs[n].proc.poll() is None  # type: ignore[union-attr]
                and self.role(self.procs[n]) == "leader"
            ]
            return names[0] if len(names) == 1 else None

        return wait_until(one, timeout, lambda: f"one leader among {self.summary()}")

    def polls(self) -> int:
        """Polls of the account by all replicas so far."""
        return sum(len(d.polls(ACCOUNT)) for d in self.procs.values())

    def wait_for_polls(self, more: int, timeout: float = 30) -> None:
        """Until the replicas together polled `more` more times (whoever leads)."""
        target = self.polls() + more
        wait_until(
            lambda: self.polls() >= target, timeout, lambda: f"{more} more polls ({self.summary()})"
        )

    def summary(self) -> str:
        return ", ".join(f"{n}: {self.role(d)}" for n, d in self.procs.items())

    def health(self, name: str, timeout: float = 5) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.ports[name]}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_health(
        self, name: str, reason: str, timeout: float = 30
    ) -> tuple[int, dict[str, Any]]:
        """Until the replica's /healthz reason says `reason`; its last answer."""

        def says() -> tuple[int, dict[str, Any]] | None:
            answer = self.health(name)
            return answer if reason in str(answer[1].get("reason")) else None

        return wait_until(says, timeout, lambda: f"{name}'s /healthz saying '{reason}'")

    def wait_healthy(self, name: str, timeout: float = 30) -> None:
        wait_until(lambda: self.health(name)[0] == 200, timeout, f"{name} healthy")

    def metrics(self, name: str, timeout: float = 5) -> str:
        url = f"http://127.0.0.1:{self.ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode())

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        """One statement on the replicas' database (as the superuser)."""
        return self.server.execute(statement, database=self.store_url.rsplit("/", 1)[1])

    def terminate_lease_session(self, name: str) -> int:
        """`pg_terminate_backend` of the replica's lease session; how many were ended."""
        return self.server.terminate(f"alertd lease {name}-%")

    # -- what was sent -------------------------------------------------------------------
    def titles(self) -> list[str]:
        return [str(m["title"]) for m in self.webhook.about(ACCOUNT)]

    def count(self, prefix: str) -> int:
        return sum(1 for t in self.titles() if t.startswith(prefix))

    def wait_for_message(self, prefix: str, timeout: float = 30, count: int = 1) -> float:
        """Until `count` messages starting with `prefix` arrived; the monotonic time then."""
        wait_until(
            lambda: self.count(prefix) >= count,
            timeout,
            lambda: f"{count}x '{prefix}' at the webhook (have {self.titles()}; {self.summary()})",
        )
        return time.monotonic()

    def set_balance(self, amount: int | str | Decimal) -> None:
        self.sim.set(ACCOUNT, balance=Decimal(str(amount)))

    # -- faults --------------------------------------------------------------------------
    def kill(self, name: str) -> float:
        """SIGKILL; the monotonic time it died."""
        self.procs[name].sigkill()
        return time.monotonic()

    def pause(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGCONT)
