"""The status page and the badges, server-rendered by Jinja2 with autoescape on: every value
a person sees is escaped, whatever a provider or a config put in it.

The page has no script and no external asset: its one stylesheet is inline and allowed by
its hash in the Content-Security-Policy, it reloads itself with a meta refresh, follows the
system's dark mode and fits a 375 px phone.
"""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from importlib.resources import files

import jinja2

from alertd import __version__
from alertd.core.format import format_amount
from alertd.web import wording
from alertd.web.status import ProviderView, StatusView

_TEMPLATES = files("alertd.web") / "templates"
CSS = (_TEMPLATES / "status.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# Nothing may load or run but the inline stylesheet (and the inline SVG, which is markup).
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
BADGE_CSP = "default-src 'none'"  # an image: nothing in it may load or run
BADGE_COLOURS = {"critical": "#c62828", "warning": "#b26a00", "ok": "#2e7d32", "pending": "#6b7280"}
_CHAR_WIDTH = 7  # px per character of Verdana 11: shields.io's rough measure
_PADDING = 12

_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(lambda name: (_TEMPLATES / name).read_text(encoding="utf-8")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(iso=wording.iso, when=wording.when, ago=wording.ago, version=__version__)


def _money(provider: ProviderView, amount: Decimal) -> str:
    return format_amount(amount, provider.unit or "")


_ENV.globals["money"] = _money


def title(view: StatusView) -> str:
    """`2 critical, 1 warning · alertd`: what needs money, in the browser tab."""
    bad = [f"{n} {s}" for s, n in view.totals.items() if n and s in ("critical", "warning")]
    return f"{', '.join(bad) or 'all ok'} · alertd"


def render_page(view: StatusView, refresh_seconds: int) -> str:
    return _ENV.get_template("status.html").render(
        view=view, refresh=refresh_seconds, title=title(view), css=CSS
    )


def render_badge(provider: ProviderView) -> str:
    """Balance and severity, shields.io style: `name | $3.00 · critical`."""
    value = provider.balance or ("cannot check" if provider.error else "no reading yet")
    if provider.severity != "ok":
        value = f"{value} · {provider.severity}"
    return _ENV.get_template("badge.svg").render(
        label=provider.name,
        value=value,
        label_width=len(provider.name) * _CHAR_WIDTH + _PADDING,
        value_width=len(value) * _CHAR_WIDTH + _PADDING,
        colour=BADGE_COLOURS[provider.severity],
    )
