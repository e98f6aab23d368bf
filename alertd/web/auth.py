"""Optional access control of the listener (SPEC §8): `http.auth_token` (a Bearer token, for
scripts and Prometheus) and/or `http.basic_auth` (a browser asks for it on the page).

With either set, every path needs one of them except `/healthz` and `/livez`: a container
HEALTHCHECK, a load balancer or a Kubernetes probe has no credentials, and their bodies say
no more than "ready" and the names of stale providers. Credentials are compared in constant
time and never logged; failures are counted in the throttled log.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from alertd.config.model import HttpConfig
from alertd.web.guard import Report

OPEN_PATHS = frozenset({"/healthz", "/livez"})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def authorized(header: str, http: HttpConfig) -> bool:
    """Whether an Authorization header carries the configured token or Basic credentials."""
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and http.auth_token is not None:
        return _same(credentials, http.auth_token.get_secret_value())
    if scheme.lower() == "basic" and http.basic_auth is not None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        expected = http.basic_auth
        user_ok = _same(user, expected.username)
        password_ok = _same(password, expected.password.get_secret_value())
        return bool(sep) and user_ok and password_ok
    return False


def challenge(http: HttpConfig) -> CIMultiDict[str]:
    """The WWW-Authenticate headers of a 401: Basic first, so that a browser asks."""
    headers: CIMultiDict[str] = CIMultiDict()
    if http.basic_auth is not None:
        headers.add("WWW-Authenticate", 'Basic realm="alertd", charset="UTF-8"')
    if http.auth_token is not None:
        headers.add("WWW-Authenticate", 'Bearer realm="alertd"')
    return headers


def auth_middleware(http: HttpConfig, report: Report) -> Middleware | None:
    """None when no credentials are configured: everything is open."""
    if http.auth_token is None and http.basic_auth is None:
        return None

    @web.middleware
    async def require(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        if authorized(request.headers.get("Authorization", ""), http):
            return await handler(request)
        if "Authorization" in request.headers:
            report("auth_failed", "a request with wrong credentials was refused")
        return web.json_response(
            {"error": "authentication required"}, status=401, headers=challenge(http)
        )

    return require


def beyond_loopback(host: str) -> bool:
    """Whether a listener bound to `host` can be reached from other machines."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name: whatever it resolves to, assume it is reachable
