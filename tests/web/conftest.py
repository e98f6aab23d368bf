"""`alertd run` with its listener on, watching one simulated account per provider type (the
e2e fleet, sentinel API keys), notifying a real webhook whose URL carries a sentinel token:
what the API, auth and browser tests drive, as a user runs it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from e2e.fleet import fleet_accounts, watch_every_account
from support.daemon import DaemonProcess, SimulatorThread, daemons, free_port, write_config
from support.http_stub import HttpStub

HOOK_TOKEN = "SENTINEL-HOOK-0c4f2e"
AUTH_TOKEN = "SENTINEL-TOKEN-5b7d21"
BASIC_USER, BASIC_PASSWORD = "ops", "SENTINEL-BASIC-8e1a44"
SENTINELS = ("SENTINEL-",)


@dataclass
class Site:
    """A running daemon's listener, and what it watches."""

    daemon: DaemonProcess
    port: int
    sim: SimulatorThread

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(
        self, path: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, lowercased headers, body); an error status is returned, not raised."""
        request = urllib.request.Request(self.url(path), headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, _lower(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _lower(error.headers.items()), error.read()

    def json(self, path: str, headers: Mapping[str, str] | None = None) -> Any:
        status, _, body = self.get(path, headers)
        assert status == 200, (status, body[:300])
        return json.loads(body)


def _lower(items: Any) -> dict[str, str]:
    """Header names lowercased; a repeated header's values joined with ", " (as HTTP may)."""
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


class ServePage(Protocol):
    def __call__(
        self,
        http: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        per_provider: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Site: ...


@pytest.fixture
def fleet() -> Iterator[SimulatorThread]:
    """One healthy account per provider type, named after it, with a sentinel API key."""
    with SimulatorThread(fleet_accounts()) as simulator:
        yield simulator


@pytest.fixture
def serve_page(tmp_path: Path, fleet: SimulatorThread, webhook: HttpStub) -> Iterator[ServePage]:
    with daemons(tmp_path, poll_timeout=15) as start:

        def serve(
            http: Mapping[str, Any] | None = None,
            defaults: Mapping[str, Any] | None = None,
            per_provider: Mapping[str, Mapping[str, Any]] | None = None,
        ) -> Site:
            port = free_port()
            config = write_config(
                tmp_path / "config.yaml",
                watch_every_account(fleet, per_provider),
                {"hook": f"{webhook.apprise_url}?+X-Token={HOOK_TOKEN}"},
                defaults,
                http={"listen": f"127.0.0.1:{port}", **(http or {})},
            )
            daemon = start(config)
            daemon.wait_started(fleet.accounts)
            return Site(daemon, port, fleet)

        yield serve
