"""DeCaptcha: balance as text with separators ("1,250.75"); `isSuccess: false` is a failure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alertd.core.model import Reading
from alertd.errors import AuthError, ResponseError
from alertd.providers.base import Provider, SimulatedAccount, decimal_from_text, require_object


class DeCaptcha(Provider):
    type_name = "decaptcha"
    title = "DeCaptcha balance (base_url required)"
    docs_url = "https://decaptcha.net/api/balance"
    path = "/api/balance"
    default_base_url = None  # the docs give no host: base_url is required
    accepts_unit = True  # the balance is money in the account's currency, USD unless told

    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    @classmethod
    def simulated_body(cls, account: SimulatedAccount) -> Any:
        return {
            "isSuccess": True,
            "statusCode": 200,
            "errorMessage": None,
            "data": f"{account.balance:,.2f}",
        }

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        body = require_object(body)
        success = body.get("isSuccess")
        if success is not True:
            message = body.get("errorMessage")
            reason = self.provider_text(message) if isinstance(message, str) else ""
            reason = reason or "no reason given"
            if str(body.get("statusCode")) in ("401", "403"):
                raise AuthError(f"credentials rejected: {reason}")
            if success is False:
                raise ResponseError(f"provider reported failure: {reason}")
            raise ResponseError("unexpected response: isSuccess missing or not a boolean")
        data = body.get("data")
        if not isinstance(data, str):
            raise ResponseError("unexpected response: data is not a balance string")
        return Reading(
            amount=decimal_from_text(data, "data"),
            unit=self.config.unit or "USD",
            checked_at=checked_at,
        )
