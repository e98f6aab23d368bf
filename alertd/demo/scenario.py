"""`alertd demo`: the real daemon against the built-in simulator, no keys, no network.

Five simulated accounts drain over about a minute, one provider has an outage, then all
are topped up. The forecast shows too: render-farm and scraper are warned of by their
runway before their balance thresholds fire, and subtitles' spending suddenly spikes.
Notifications go through Apprise like any other: to a terminal notifier
(`alertddemo://`, an Apprise custom plugin) and optionally to a webhook the user names.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import apprise
from apprise.decorators import notify

from alertd.config.loader import load
from alertd.daemon import Daemon
from alertd.demo.simulator import Account, Simulator
from alertd.notify.dispatch import RetryPolicy
from alertd.observability import logging as logs

SEEN: Counter[str] = Counter()
_COLOURS = {"warning": "\033[33m", "failure": "\033[31m", "success": "\033[32m", "info": "\033[36m"}


@notify(on="alertddemo", name="alertd demo terminal")  # type: ignore[untyped-decorator, no-untyped-call]
def _terminal(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    """Prints a notification as a block in the terminal (runs in Apprise's thread pool)."""
    tag = title.split("]")[0].lstrip("[")
    SEEN["reminder" if "still" in title else tag.lower()] += 1
    colour, reset = (_COLOURS.get(notify_type, ""), "\033[0m") if sys.stdout.isatty() else ("", "")
    indented = "\n".join(f"    {line}" for line in body.splitlines())
    print(f"\n{colour}>>> {title}{reset}\n{indented}\n", flush=True)
    return True


@dataclass(frozen=True)
class Drain:
    """Linear from `start` to `end` over [0, DRAIN_END]; with `calm_until`, only `calm` of the
    way there until then (a spend spike follows)."""

    account: str
    start: Decimal
    end: Decimal
    calm_until: float | None = None
    calm: Decimal = Decimal("0.1")

    def balance(self, t: float) -> Decimal:
        t = min(t, DRAIN_END)
        if self.calm_until is None:
            share = Decimal(str(t / DRAIN_END))
        elif t < self.calm_until:
            share = self.calm * Decimal(str(t / self.calm_until))
        else:
            rest = Decimal(str((t - self.calm_until) / (DRAIN_END - self.calm_until)))
            share = self.calm + (1 - self.calm) * rest
        return (self.start + (self.end - self.start) * share).quantize(Decimal("0.01"))


# Seconds on the demo's clock (divided by --speed). Balances move linearly in [0, DRAIN_END].
DRAIN_END = 30.0
OUTAGE = (10.0, 22.0)
TOP_UP = 40.0
FINISH = 50.0
DRAINS = (
    Drain("render-farm", Decimal(40), Decimal(2)),  # warning at $20, critical at $5
    Drain("search-api", Decimal(40), Decimal(12)),  # warning only, early enough to be reminded
    Drain("scraper", Decimal(8000), Decimal(300)),  # warning at 20% of 10,000, critical at 500
    Drain("subtitles", Decimal(3000), Decimal(2500), calm_until=20.0),  # spend spike at 20
    Drain("captcha", Decimal(80), Decimal(70)),  # stays healthy; has an outage instead
)


def _accounts() -> list[Account]:
    kinds = ("browser7", "youcom", "lobstr", "srtgen", "decaptcha")
    return [
        Account(d.account, kind, f"demo-key-{kind}", d.start)
        for d, kind in zip(DRAINS, kinds, strict=True)
    ]


# Forecast settings in demo seconds: a 28 s burn window needs 4 s of history; runway levels
# put render-farm's runway warning at about 7 s, its balance warning at about 16 s.
BURN_WINDOW, RUNWAY_WARNING, RUNWAY_CRITICAL = 28.0, 25.0, 8.0


def _seconds(demo_seconds: float, speed: float) -> str:
    return f"{max(1, round(demo_seconds / speed))}s"


def _config(sim: Simulator, speed: float, webhook: str | None) -> str:
    repeat = max(1, round(8 / speed))
    window = f"{max(7, round(BURN_WINDOW / speed))}s"
    runway = (
        f"runway_warning: {_seconds(RUNWAY_WARNING, speed)}, "
        f"runway_critical: {_seconds(RUNWAY_CRITICAL, speed)}"
    )
    urls = ['"alertddemo://terminal"'] + ([f'"{webhook}"'] if webhook else [])
    return f"""\
defaults:
  interval: 1s
  jitter: 0
  timeout: 2s
  failure_threshold: 2
  repeat_interval: {repeat}s
  burn_window: {window}
notifiers:
  terminal:
    urls: [{", ".join(urls)}]
providers:
  render-farm: {{type: browser7, api_key: demo-key-browser7, base_url: "{sim.base_url("render-farm")}", warning: 20, critical: 5, {runway}}}
  search-api: {{type: youcom, api_key: demo-key-youcom, base_url: "{sim.base_url("search-api")}", warning: 20, critical: 5}}
  scraper: {{type: lobstr, api_key: demo-key-lobstr, base_url: "{sim.base_url("scraper")}", warning: 20%, critical: 500, {runway}}}
  subtitles: {{type: srtgen, api_key: demo-key-srtgen, base_url: "{sim.base_url("subtitles")}", warning: 1000, critical: 200, spend_spike: 3x}}
  captcha: {{type: decaptcha, api_key: demo-key-decaptcha, base_url: "{sim.base_url("captcha")}", warning: 20, critical: 5}}
"""  # noqa: E501


def _say(text: str) -> None:
    print(f"--- {text}", flush=True)


async def _scenario(sim: Simulator, speed: float, daemon: Daemon) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    outage_on = topped_up = False
    _say("all five providers healthy; balances start draining now")
    while True:
        t = (loop.time() - started) * speed
        if t >= FINISH:
            break
        if not topped_up:
            for drain in DRAINS:
                sim.accounts[drain.account].balance = drain.balance(t)
        if not outage_on and OUTAGE[0] <= t < OUTAGE[1]:
            outage_on = True
            sim.accounts["captcha"].status = 503
            _say("captcha's API starts failing with HTTP 503 (alert after 2 failed polls)")
        if outage_on and t >= OUTAGE[1]:
            outage_on = False
            sim.accounts["captcha"].status = 200
            _say("captcha's API is back")
        if not topped_up and t >= TOP_UP:
            topped_up = True
            for drain in DRAINS:
                account = sim.accounts[drain.account]
                account.balance = drain.start * 2
                account.capacity = max(account.capacity, account.balance)  # a bigger plan
            _say("every account topped up: expect resolutions")
        await asyncio.sleep(0.2 / speed)
    daemon.stopping.set()


async def _run(speed: float, webhook: str | None) -> int:
    sim = Simulator(_accounts())
    await sim.start()
    with tempfile.TemporaryDirectory(prefix="alertd-demo-") as tmp:
        path = Path(tmp) / "demo.yaml"
        path.write_text(_config(sim, speed, webhook))
        settings = load(path)
        daemon = Daemon(settings, retry=RetryPolicy(attempts=4, first_delay=0.5))
        _say(
            f"simulated provider APIs on http://127.0.0.1:{sim.port}; demo takes "
            f"about {FINISH / speed:.0f}s"
        )
        scenario = asyncio.create_task(_scenario(sim, speed, daemon))
        code = await daemon.run()
        await scenario
    await sim.stop()
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(SEEN.items()))
    _say(f"demo finished: notifications shown: {summary or 'none'}")
    return code


def run_demo(speed: float = 1.0, webhook: str | None = None) -> int:
    if webhook and not apprise.Apprise().add(webhook):
        print(
            f"--webhook: not a valid Apprise URL (scheme '{webhook.split('://')[0]}')",
            file=sys.stderr,
        )
        return 2
    logs.configure("console", "error")
    return asyncio.run(_run(speed, webhook))
