"""The page and the badge as rendered HTML/SVG: every value escaped, nothing that can run or
load (no script, no external URL), the inline stylesheet allowed by exactly its hash, the
tab title saying what needs money. (The same page in a real browser: test_browser.py.)"""

from __future__ import annotations

import base64
import hashlib
import re
from decimal import Decimal
from html.parser import HTMLParser

from support.core import at

from alertd.core.model import Failure, Reading, Signal
from alertd.core.series import Event, EventKind, Sample
from alertd.web.page import PAGE_CSP, render_badge, render_page, title
from alertd.web.sparkline import sparkline
from alertd.web.status import StatusView, status_view
from web.cards import draining, watched

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def hostile_view() -> StatusView:
    reading = Reading(
        Decimal(3),
        HOSTILE,
        at(0),
        signals=(Signal("plan_status", f"plan {HOSTILE}", flagged=True),),
    )
    cards = [
        watched("unit", [(0, reading)]),
        watched("error", [(0, "50"), (1, Failure(f"HTTP 500: {HOSTILE}"))]),
    ]
    return status_view(cards, at(1))


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_display_data_is_escaped_never_markup() -> None:
    html = render_page(hostile_view(), 30)
    tags = parsed(html)
    assert not [t for t, _ in tags.tags if t in ("script", "img", "iframe", "object")]
    assert not [a for _, attrs in tags.tags for a in attrs if a.startswith("on")]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # unit, error, signal


def test_the_only_style_is_allowed_by_its_hash_and_nothing_else_loads() -> None:
    view = status_view([draining("wallet", 100, 1, 10)], at(10))
    html = render_page(view, 30)
    tags = parsed(html)
    digest = base64.b64encode(hashlib.sha256(tags.style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in PAGE_CSP
    assert "script-src" not in PAGE_CSP  # default-src 'none' forbids every script
    assert PAGE_CSP.startswith("default-src 'none';")
    urls = [v for _, attrs in tags.tags for k, v in attrs.items() if k in ("src", "href") and v]
    assert all(not re.match(r"^(https?:)?//", url) for url in urls), urls
    assert [t for t, _ in tags.tags].count("style") == 1
    assert not [a for _, attrs in tags.tags for a in attrs if a == "style"]  # no inline style=
    assert ("meta", {"http-equiv": "refresh", "content": "30"}) in tags.tags


def test_a_sparkline_is_inline_svg_with_its_points_and_top_ups() -> None:
    card = draining("wallet", 100, 1, 4)
    samples = [Sample(at(h), Decimal(100 - h), "USD") for h in range(5)]
    spark = sparkline(samples, [Event(at(2), EventKind.TOPUP, Decimal(5), Decimal(98))], {}, at(4))
    assert spark is not None
    view = status_view([card], at(4), {"wallet": spark})
    tags = parsed(render_page(view, 30))
    [polyline] = [attrs for t, attrs in tags.tags if t == "polyline"]
    assert polyline["points"] == spark.polyline
    [circle] = [attrs for t, attrs in tags.tags if t == "circle"]
    assert (circle["class"], circle["data-kind"]) == ("topup", "topup")


def test_the_tab_says_what_needs_money() -> None:
    view = status_view(
        [watched("a", [(0, "3")]), watched("b", [(0, "15")]), watched("c", [(0, "100")])], at(0)
    )
    assert title(view) == "1 critical, 1 warning · alertd"
    assert title(status_view([watched("c", [(0, "100")])], at(0))) == "all ok · alertd"


def test_badge_escapes_and_colours_by_severity() -> None:
    [unit, error] = hostile_view().providers
    svg = render_badge(unit)
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    assert 'fill="#c62828"' in svg  # critical: $3 is below $5
    tags = parsed(render_badge(error))
    assert not [t for t, _ in tags.tags if t not in ("svg", "title", "rect", "g", "text")]
