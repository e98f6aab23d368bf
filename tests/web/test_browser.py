"""The status page in a real headless browser (Debian's Chromium driven by Playwright, never a
downloaded one) against `alertd run` and the simulator, as a person sees it: every provider
with its balance, severity colour and reason, the runway of a draining one, a sparkline that
follows the readings, updates without a click, text from a provider shown and never run, no
request beyond 127.0.0.1, a 375 px phone without sideways scrolling, dark mode.

Screenshots (desktop, phone, dark) are saved under artifacts/status-page/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support.daemon import DaemonProcess, SimulatorThread, daemons, free_port, write_config
from support.http_stub import webhook_stub

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "status-page"
HOSTILE_UNIT = "<b>EUR</b><script>window.pwned = 'unit'</script>"
HOSTILE_PLAN = "<img src=x onerror=pwned='plan'>"
HOSTILE_ERROR = "<script>window.pwned = 'error'</script>"
DRAIN_PER_SECOND = Decimal(2)
# Light theme colours of the severities (status.css), as the browser computes them.
COLOURS = {"critical": "rgb(198, 40, 40)", "warning": "rgb(161, 92, 0)", "ok": "rgb(46, 125, 50)"}

pytestmark = pytest.mark.e2e


@dataclass
class Stage:
    daemon: DaemonProcess
    sim: SimulatorThread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}api/v1/status", timeout=10) as response:
            data: dict[str, Any] = json.loads(response.read())
        return {p["name"]: p for p in data["providers"]}


class Drain(threading.Thread):
    """Moves an account's balance down in real time, DRAIN_PER_SECOND a second."""

    def __init__(self, sim: SimulatorThread, name: str, start: Decimal) -> None:
        super().__init__(daemon=True)
        self.sim, self.name, self.start_at = sim, name, start
        self.stopped = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        while not self.stopped.wait(0.2):
            spent = DRAIN_PER_SECOND * Decimal(str(time.monotonic() - began))
            self.sim.set(self.name, balance=(self.start_at - spent).quantize(Decimal("0.01")))


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    """wallet drains (a runway), credits is critical, captcha cannot be checked, tokens has a
    hostile unit, subs a hostile plan name, search is fine (the update test changes it)."""
    tmp_path = tmp_path_factory.mktemp("page")
    with SimulatorThread() as sim, webhook_stub() as hook:
        sim.account("wallet", "browser7", 1000)
        sim.account("credits", "lobstr", 300)
        sim.account("captcha", "decaptcha", 50)
        sim.account("tokens", "decaptcha", 42)
        sim.account("subs", "srtgen", 8000)
        sim.account("search", "youcom", 100)
        sim.account("topped", "youcom", 50)
        sim.set("captcha", body=json.dumps({"isSuccess": False, "errorMessage": HOSTILE_ERROR}))
        sim.set("subs", plan_status=HOSTILE_PLAN)
        port = free_port()
        levels = {"warning": 20, "critical": 5}
        config = write_config(
            tmp_path / "config.yaml",
            {
                "wallet": sim.provider("wallet", **levels, burn_window="14s"),
                "credits": sim.provider("credits", warning="20%", critical=500),
                "captcha": sim.provider("captcha", **levels, failure_threshold=1),
                "tokens": sim.provider("tokens", **levels, unit=HOSTILE_UNIT),
                "subs": sim.provider("subs", warning=100),
                "search": sim.provider("search", **levels),
                "topped": sim.provider("topped", **levels),
            },
            {"hook": hook.apprise_url},
            {"repeat_interval": 0},
            http={"listen": f"127.0.0.1:{port}", "refresh": "2s"},
        )
        drain = Drain(sim, "wallet", Decimal(1000))
        drain.start()
        with daemons(tmp_path) as start:
            daemon = start(config)
            daemon.wait_started(
                ["wallet", "credits", "captcha", "tokens", "subs", "search", "topped"]
            )
            yield Stage(daemon, sim, port)
            daemon.assert_running()
        drain.stopped.set()
        drain.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Visit:
    page: Page
    requests: list[str]
    console: list[str]


@pytest.fixture
def visit(browser: Browser) -> Iterator[Any]:
    opened: list[Page] = []

    def open_page(url: str, width: int = 1280, height: int = 900, dark: bool = False) -> Visit:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
        )
        page = context.new_page()
        visit = Visit(page, [], [])
        page.on("request", lambda request: visit.requests.append(request.url))
        page.on("console", lambda message: visit.console.append(message.text))
        page.goto(url)
        opened.append(page)
        return visit

    yield open_page
    for page in opened:
        page.context.close()


def card(page: Page, name: str) -> Any:
    return page.locator(f'article[data-provider="{name}"]')


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for_forecast(stage: Stage) -> None:
    deadline = time.monotonic() + 20
    while stage.status()["wallet"]["forecast"]["outlook"] != "runs out":
        assert time.monotonic() < deadline, stage.status()["wallet"]
        time.sleep(0.2)


def test_every_provider_with_balance_severity_colour_reason_and_runway(
    stage: Stage, visit: Any
) -> None:
    wait_for_forecast(stage)
    status = stage.status()
    page = visit(stage.url).page
    names = page.locator("article.card").evaluate_all("cards => cards.map(c => c.dataset.provider)")
    # worst first; among the ok ones the draining wallet, which runs out, first
    assert names == ["credits", "captcha", "subs", "wallet", "search", "tokens", "topped"]
    assert list(status) == names
    for name, provider in status.items():
        box = card(page, name)
        expect(box.locator(".label")).to_have_text(provider["severity"])
        expect(box.locator(".reason")).to_have_text(provider["reason"])
        if provider["severity"] in COLOURS:
            expect(box.locator(".reason")).to_have_css("color", COLOURS[provider["severity"]])
        if name != "wallet" and provider["balance"] is not None:  # wallet moves every second
            expect(box.locator(".balance")).to_have_text(provider["balance"]["text"])
    expect(card(page, "credits").locator(".balance")).to_have_text("300 credits")
    expect(card(page, "credits").locator(".reason")).to_have_text(
        "below critical threshold 500 credits"
    )
    expect(card(page, "search").locator(".balance")).to_have_text("$100.00")
    expect(card(page, "wallet").locator(".balance")).to_have_text(
        re.compile(r"^\$9\d\d\.\d\d \(9\d,\d\d\d renders\)$")
    )
    expect(card(page, "wallet").locator(".runway")).to_have_text(
        re.compile(r"^runs out in ~\d+ minutes \(around \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$")
    )
    expect(card(page, "wallet").locator(".burn")).to_have_text(
        re.compile(r"^\$1\d\d,\d\d\d\.\d\d/day$")  # ~$2/s = $172,800/day
    )
    expect(page.locator('.totals li[data-severity="critical"] .count')).to_have_text("1")


def test_text_from_providers_is_shown_and_never_run(stage: Stage, visit: Any) -> None:
    shown = visit(stage.url)
    page = shown.page
    expect(card(page, "captcha").locator(".error")).to_contain_text(HOSTILE_ERROR)
    expect(card(page, "tokens").locator(".balance")).to_have_text(f"42 {HOSTILE_UNIT}")
    expect(card(page, "subs").locator(".reason")).to_contain_text(HOSTILE_PLAN)
    assert page.evaluate("() => window.pwned") is None
    assert page.evaluate("() => document.scripts.length") == 0
    assert page.locator("article img").count() == 0


def test_no_request_leaves_this_host(stage: Stage, visit: Any) -> None:
    shown = visit(stage.url)
    shown.page.wait_for_timeout(2500)  # and one self-refresh
    hosts = {urlsplit(url).hostname for url in shown.requests if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, shown.requests
    assert len(shown.requests) >= 2, shown.requests  # the page, then its refresh
    assert [m for m in shown.console if "Content Security Policy" in m] == []


def test_fits_a_375_px_phone_without_sideways_scrolling(stage: Stage, visit: Any) -> None:
    page = visit(stage.url, width=375, height=812).page
    expect(card(page, "credits")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide"
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 376)
            .map(e => e.tagName + '.' + e.className)"""
    )
    assert overflowing == []
    screenshot(page, "phone")


def test_dark_mode_follows_the_system(stage: Stage, visit: Any) -> None:
    page = visit(stage.url, dark=True).page
    expect(card(page, "credits")).to_be_visible()
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 22)"
    expect(card(page, "credits").locator(".reason")).to_have_css("color", "rgb(255, 107, 107)")
    screenshot(page, "dark")


def test_the_page_updates_after_a_balance_changes(stage: Stage, visit: Any) -> None:
    page = visit(stage.url).page
    box = card(page, "search")
    expect(box.locator(".balance")).to_have_text("$100.00")
    expect(box.locator(".label")).to_have_text("ok")
    stage.sim.set("search", balance=Decimal(3))
    # no click, no reload: the page refreshes itself every 2 s, and polls come every 1 s
    expect(box.locator(".balance")).to_have_text("$3.00", timeout=15_000)
    expect(box.locator(".label")).to_have_text("critical")
    expect(box.locator(".reason")).to_have_text("below critical threshold $5.00")
    expect(box.locator(".reason")).to_have_css("color", COLOURS["critical"])
    expect(page.locator('.totals li[data-severity="critical"] .count')).to_have_text("2")


def polyline(page: Page, name: str) -> list[tuple[float, float]]:
    points = card(page, name).locator("svg.spark polyline").get_attribute("points") or ""
    return [(float(x), float(y)) for x, y in (p.split(",") for p in points.split())]


def history(stage: Stage, name: str) -> list[Decimal]:
    url = f"{stage.url}api/v1/providers/{name}/history?since=1h"
    with urllib.request.urlopen(url, timeout=10) as response:
        return [Decimal(s["amount"]) for s in json.loads(response.read())["samples"]]


def same_order(points: list[tuple[float, float]], amounts: list[Decimal]) -> bool:
    """Whether a higher balance is drawn higher (a smaller y), pair by pair."""
    pairs = list(zip(points, amounts, strict=False))
    return all(
        (a > b) == (p[1] < q[1]) and (a == b) == (p[1] == q[1])
        for (p, a), (q, b) in pairwise(pairs)
    )


def test_the_sparkline_follows_the_readings_and_marks_a_top_up(stage: Stage, visit: Any) -> None:
    stage.daemon.wait_for_polls(["wallet", "topped"], 3)
    stage.sim.set("topped", balance=Decimal(80))  # a top-up: 50 -> 80
    stage.daemon.wait_for_polls(["topped"], 2)
    page = visit(stage.url).page
    expect(card(page, "topped").locator("svg.spark circle.topup")).to_have_count(1)
    for name in ("wallet", "topped"):
        points = polyline(page, name)
        amounts = history(stage, name)  # read after the page: it may hold a reading more
        assert 3 <= len(points) <= len(amounts), (name, points, amounts)
        assert [x for x, _ in points] == sorted(x for x, _ in points)
        assert same_order(points, amounts), (name, points, amounts)
    wallet = polyline(page, "wallet")
    assert all(p[1] < q[1] for p, q in pairwise(wallet))  # draining
    topped = polyline(page, "topped")
    assert topped[-1][1] < topped[0][1]  # drawn higher after the top-up
    marker = card(page, "topped").locator("svg.spark circle.topup")
    expect(marker.locator("title")).to_contain_text("topup +$30.00 on ")
    assert float(marker.get_attribute("cy") or "nan") == min(y for _, y in topped)
    screenshot(page, "desktop")  # the last test: the longest sparklines, a top-up marked
