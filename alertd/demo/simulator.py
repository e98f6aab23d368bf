"""Simulated balance APIs of the five providers, in their documented shapes, on 127.0.0.1.

Serves `alertd demo`, the end-to-end tests and the benchmark. Each account lives under
`/<account>/` so one server holds many: its base_url is `http://127.0.0.1:PORT/<account>`.
The documented auth header is checked (401 on a wrong key). `POST /_control/<account>`
with a JSON object changes an account while it runs: balance, status, hang, delay,
body (raw text), unpaid_bill, plan_status, storage_ratio.

Run alone: `python -m alertd.demo.simulator --accounts 1000 --port 0 --config-out sim.yaml`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from alertd.providers import REGISTRY

# Every type the registry can simulate: a new type shows up here by itself.
TYPES = tuple(name for name, cls in REGISTRY.items() if cls.simulated)
PATHS = {name: REGISTRY[name].path for name in TYPES}
BACKLOG = 1024


def _auth_ok(kind: str, headers: Mapping[str, str], key: str) -> bool:
    """The documented auth header, as the provider's own adapter sends it."""
    expected = REGISTRY[kind].auth_headers(key)
    return all(headers.get(name.lower()) == value for name, value in expected.items())


@dataclass
class Account:
    """One simulated account. `balance` is in the unit alertd reports (USD or credits)."""

    name: str
    type: str
    api_key: str
    balance: Decimal
    capacity: Decimal = Decimal(10000)
    status: int = 200
    hang: bool = False
    delay: float = 0.0
    body: str | None = None
    unpaid_bill: bool = False
    plan_status: str = "active"
    storage_ratio: Decimal = Decimal("0.02")
    requests: int = field(default=0)

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for key, value in changes.items():
            if key not in known or key in ("name", "type", "requests"):
                raise KeyError(key)
            current = getattr(self, key)
            if isinstance(current, Decimal):
                value = Decimal(str(value))
            setattr(self, key, value)

    def payload(self) -> Any:
        """The documented response body for this account's current balance."""
        return REGISTRY[self.type].simulated_body(self)


def _json(payload: Any, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(payload, status=status, headers=headers)


class Simulator:
    """An aiohttp server (its clients are alertd and the tests: trusted, so none of the
    listener's guards) with keep-alive, as the real APIs have."""

    def __init__(self, accounts: list[Account] | None = None) -> None:
        self.accounts: dict[str, Account] = {a.name: a for a in accounts or []}
        self.runner: web.ServerRunner | None = None
        self.port = 0

    def add(self, account: Account) -> Account:
        self.accounts[account.name] = account
        return account

    def base_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def start(self, port: int = 0) -> int:
        self.runner = web.ServerRunner(
            web.Server(self.handle), access_log=None, shutdown_timeout=0.5
        )
        await self.runner.setup()
        # A deep accept queue: a thousand providers polled at once connect at once, and a
        # full queue drops connections for a second (the SYN is retried after 1 s).
        sock = socket.create_server(("127.0.0.1", port), backlog=BACKLOG)
        await web.SockSite(self.runner, sock, backlog=BACKLOG).start()
        self.port = int(sock.getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.BaseRequest) -> web.Response:
        if request.path.startswith("/_control"):
            return await self._control(request)
        name, path = _split(request.path)
        account = self.accounts.get(name)
        if account is None or PATHS[account.type] != path:
            return _json({"detail": "not found"}, status=404)
        account.requests += 1
        if account.hang:
            await asyncio.sleep(3600)
        if account.delay:
            await asyncio.sleep(account.delay)
        if not _auth_ok(account.type, request.headers, account.api_key):
            return _json({"detail": "invalid API key"}, status=401)
        if account.status != 200:
            extra = {"Retry-After": "30"} if account.status == 429 else {}
            return _json({"detail": "simulated failure"}, account.status, **extra)
        if account.body is not None:
            return web.Response(body=account.body.encode(), content_type="text/html")
        return _json(account.payload())

    async def _control(self, request: web.BaseRequest) -> web.Response:
        name = request.path.removeprefix("/_control").strip("/")
        if not name:
            return _json({n: _describe(a) for n, a in self.accounts.items()})
        account = self.accounts.get(name)
        if account is None:
            return _json({"error": f"no account {name}"}, status=404)
        if request.method in ("POST", "PUT"):
            try:
                account.update(json.loads(await request.read() or b"{}"))
            except (KeyError, ValueError) as exc:
                return _json({"error": f"bad change: {exc}"}, status=400)
        return _json(_describe(account))


def _split(path: str) -> tuple[str, str]:
    """`/acct/v1/x` -> ("acct", "/v1/x")."""
    name, _, rest = path.lstrip("/").partition("/")
    return name, "/" + rest


def _describe(account: Account) -> dict[str, Any]:
    return {
        "type": account.type,
        "balance": str(account.balance),
        "status": account.status,
        "hang": account.hang,
        "requests": account.requests,
    }


def default_balance(kind: str) -> Decimal:
    return Decimal(100) if kind in ("browser7", "youcom", "decaptcha") else Decimal(8000)


def fleet(count: int, key_prefix: str = "sim-key") -> list[Account]:
    """`count` accounts cycling through the five types, healthy balances."""
    accounts = []
    for index in range(count):
        kind = TYPES[index % len(TYPES)]
        name = f"{kind}-{index:04d}"
        accounts.append(Account(name, kind, f"{key_prefix}-{index}", default_balance(kind)))
    return accounts


def config_yaml(sim: Simulator, **defaults: Any) -> str:
    """A config watching every account, with thresholds at 20% and 5% of the default balance."""
    lines = ["defaults:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in defaults.items()]
    lines.append("providers:")
    for account in sim.accounts.values():
        healthy = default_balance(account.type)
        lines += [
            f"  {account.name}:",
            f"    type: {account.type}",
            f"    api_key: {account.api_key}",
            f"    base_url: {sim.base_url(account.name)}",
            f"    warning: {healthy * Decimal('0.2')}",
            f"    critical: {healthy * Decimal('0.05')}",
        ]
    return "\n".join(lines) + "\n"


async def _main(args: argparse.Namespace) -> None:
    sim = Simulator(fleet(args.accounts))
    port = await sim.start(args.port)
    if args.config_out:
        text = config_yaml(sim, interval=args.interval, jitter=args.jitter)
        await asyncio.to_thread(Path(args.config_out).write_text, text)
    print(json.dumps({"listening": f"127.0.0.1:{port}", "accounts": args.accounts}), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m alertd.demo.simulator")
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--interval", default="60s")
    parser.add_argument("--jitter", default="10%", help="jitter written into the config")
    parser.add_argument("--config-out", metavar="PATH", help="write a config watching the fleet")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
