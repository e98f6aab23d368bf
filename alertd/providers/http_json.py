"""Any other balance API from config alone: where to ask, where the key travels, and JMESPath
expressions (alertd.providers.jmes) that read the answer. Every preset is this type with
its keys filled in from a data file (alertd.providers.presets).

The key can travel in a header, a query parameter, a field of a JSON body (POST) or as HTTP
Basic credentials (`auth`). Wherever it goes it stays a secret: `url` never carries the
query, and a provider's own error text is masked before anyone sees it.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from jmespath.parser import ParsedResult

from alertd.config.model import Endpoint
from alertd.core.model import Reading
from alertd.errors import AuthError, ResponseError
from alertd.providers.base import Provider
from alertd.providers.jmes import compile_expression, number_of, search, truthy
from alertd.providers.reset import reset_time

EXPRESSIONS = (
    "expression",
    "used_expression",
    "capacity_expression",
    "reset_expression",
    "unit_expression",
    "error_expression",
    "auth_error_expression",
)
MAX_UNIT = 16  # a unit read from the body (a currency code) longer than this is not one


def endpoint_problems(endpoint: Endpoint, type_name: str) -> list[str]:
    """What makes an endpoint unusable, one line per key: shared by a provider's config and
    a preset file, so a broken preset is refused with the same words as a broken config."""
    problems = [] if endpoint.path else [f"path: required for type {type_name}"]
    return problems + _expression_problems(endpoint, type_name) + _request_problems(endpoint)


def _expression_problems(endpoint: Endpoint, type_name: str) -> list[str]:
    problems = []
    if endpoint.expression and endpoint.used_expression:
        problems.append("used_expression: give expression or used_expression, not both")
    elif not endpoint.expression and not endpoint.used_expression:
        problems.append(f"expression: required for type {type_name} (or used_expression)")
    if endpoint.used_expression and not endpoint.capacity_expression:
        problems.append("used_expression: needs capacity_expression (remaining = capacity − used)")
    for key in EXPRESSIONS:
        expression = getattr(endpoint, key)
        if expression:
            try:
                compile_expression(expression)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    return problems


def _request_problems(endpoint: Endpoint) -> list[str]:
    problems = []
    auth = endpoint.auth
    if endpoint.method == "GET" and endpoint.body is not None:
        problems.append("body: only sent with method: POST")
    if endpoint.method == "GET" and auth is not None and auth.body:
        problems.append("auth.body: a JSON body is only sent with method: POST")
    if "{user}" in (endpoint.path or "") and not (auth is not None and auth.basic):
        problems.append("path: {user} is filled in from the Basic user: it needs auth: basic")
    return problems


class HttpJson(Provider):
    type_name = "http_json"
    title = "any JSON balance API, described in the config"
    docs_url = "https://jmespath.org/specification.html"
    needs_api_key = False
    accepts_unit = True
    simulated = False  # its shape is whatever the config says

    @classmethod
    def key_placement(cls) -> str:
        return "where auth says: header, query, JSON body or HTTP Basic"

    # -- config --------------------------------------------------------------------------
    def needs_key(self) -> bool:
        auth = self.config.auth
        return auth is not None and not (auth.basic and self.config.user is not None)

    def config_problems(self) -> list[str]:
        problems = super().config_problems()
        problems.extend(endpoint_problems(self.config, self.config.type))
        problems.extend(self._credential_problems())
        return problems

    def _credential_problems(self) -> list[str]:
        cfg, auth = self.config, self.config.auth
        basic = auth is not None and auth.basic
        if auth is None and (cfg.api_key is not None or cfg.api_key_file is not None):
            return ["api_key: not sent anywhere: say where with auth (header, query, body, basic)"]
        if not basic:
            given = [key for key in ("user", "password") if getattr(cfg, key) is not None]
            return [f"{key}: only used with auth: basic" for key in given]
        if (cfg.user is None) != (cfg.password is None):
            missing = "password" if cfg.password is None else "user"
            return [f"{missing}: required with {'user' if missing == 'password' else 'password'}"]
        if cfg.user is None and cfg.api_key is not None and ":" not in cfg.api_key_value():
            return ["api_key: with auth: basic, write it USER:PASSWORD (or set user and password)"]
        if ":" in self._basic_credentials()[0]:
            return ["user: may not contain ':' (HTTP Basic splits there)"]
        return []

    def has_capacity(self) -> bool:
        return bool(self.config.capacity_expression)

    def secrets(self) -> list[str]:
        values = super().secrets()
        if self.config.auth is not None and self.config.auth.basic:
            values.extend(self._basic_credentials())
            values.append(self._basic_token())
        return [value for value in values if value]

    # -- the request ---------------------------------------------------------------------
    def _basic_credentials(self) -> tuple[str, str]:
        """`user` and `password`, or `api_key` written as USER:PASSWORD (curl's -u)."""
        cfg = self.config
        if cfg.user is not None:
            password = cfg.password.get_secret_value() if cfg.password else ""
            return cfg.user.get_secret_value(), password
        user, _, password = cfg.api_key_value().partition(":")
        return user, password

    def _basic_token(self) -> str:
        return base64.b64encode(":".join(self._basic_credentials()).encode()).decode("ascii")

    def endpoint_path(self) -> str:
        path = self.config.path or ""
        if "{user}" in path:
            path = path.replace("{user}", quote(self._basic_credentials()[0], safe=""))
        return path if path.startswith("/") or not path else "/" + path

    def request_url(self) -> str:
        auth = self.config.auth
        if auth is None or not auth.query:
            return self.url
        query = urlencode({auth.query: self.config.api_key_value()})
        return f"{self.url}{'&' if '?' in self.url else '?'}{query}"

    def request_method(self) -> str:
        return self.config.method

    def request_body(self) -> bytes | None:
        if self.config.method != "POST":
            return None
        body = dict(self.config.body or {})
        auth = self.config.auth
        if auth is not None and auth.body:
            body[auth.body] = self.config.api_key_value()
        return json.dumps(body).encode()

    def request_headers(self) -> dict[str, str]:
        headers = super().request_headers()
        headers.update({k: v.get_secret_value() for k, v in self.config.headers.items()})
        auth = self.config.auth
        if auth is not None and auth.header:
            headers[auth.header] = auth.prefix + self.config.api_key_value()
        if auth is not None and auth.basic:
            headers["Authorization"] = f"Basic {self._basic_token()}"
        if self.config.method == "POST":
            headers["Content-Type"] = "application/json"
        return headers

    # -- the answer ----------------------------------------------------------------------
    @cached_property
    def _compiled(self) -> dict[str, ParsedResult]:
        texts = {key: getattr(self.config, key) for key in EXPRESSIONS}
        return {key: compile_expression(text) for key, text in texts.items() if text}

    def _search(self, key: str, body: Any) -> Any:
        return search(self._compiled[key], body)

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        self._raise_reported_error(body)
        compiled, scale = self._compiled, self.config.scale
        amount = capacity = None
        if "used_expression" not in compiled:
            amount = number_of(self._search("expression", body), "balance expression") / scale
        if "capacity_expression" in compiled:
            found = self._search("capacity_expression", body)
            capacity = number_of(found, "capacity expression") / scale
        if amount is None:  # remaining = capacity − used (JMESPath cannot subtract)
            used = number_of(self._search("used_expression", body), "used expression") / scale
            amount = (capacity or Decimal(0)) - used
        return Reading(
            amount=amount,
            unit=self._unit(body),
            checked_at=checked_at,
            capacity=capacity,
            resets_at=self._resets_at(body, checked_at),
        )

    def _raise_reported_error(self, body: Any) -> None:
        """An error the provider reports inside a 200 (captcha services: `errorId` > 0)."""
        for key, error, prefix in (
            ("auth_error_expression", AuthError, "credentials rejected"),
            ("error_expression", ResponseError, "provider reported failure"),
        ):
            if key in self._compiled:
                found = self._search(key, body)
                if truthy(found):
                    reason = self.provider_text(found) if isinstance(found, str) else ""
                    raise error(f"{prefix}: {reason or 'no reason given'}")

    def _lenient(self, key: str, body: Any) -> Any:
        """An optional expression's result: None when it is unset or the body breaks it."""
        if key not in self._compiled:
            return None
        try:
            return self._search(key, body)
        except ResponseError:
            return None

    def _unit(self, body: Any) -> str:
        """The unit the body names (a currency code), else `unit`: a missing or odd one costs
        the label, never the reading."""
        found = self._lenient("unit_expression", body)
        if isinstance(found, str) and 0 < len(found.strip()) <= MAX_UNIT and found.isprintable():
            return found.strip()
        return self.config.unit or "units"

    def _resets_at(self, body: Any, now: datetime) -> datetime | None:
        return reset_time(self._lenient("reset_expression", body), "reset expression", now)
