"""You.com (search API): `data.attributes.balance` in cents, possibly fractional (718924.5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from alertd.core.model import Reading
from alertd.providers.base import Provider, SimulatedAccount, number, require_object


class YouCom(Provider):
    type_name = "youcom"
    title = "You.com API credit balance in USD"
    docs_url = "https://you.com/docs/api-reference/billing/get-account-balance"
    path = "/v1/billing/account_balance"
    default_base_url = "https://api.you.com"

    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {"X-API-Key": api_key}

    @classmethod
    def simulated_body(cls, account: SimulatedAccount) -> Any:
        cents = account.balance * 100
        return {
            "data": {
                "type": "account",
                "id": f"acct_{account.name}",
                "attributes": {"balance": float(cents)},
            }
        }

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        cents = number(require_object(body), "data.attributes.balance")
        return Reading(amount=cents / Decimal(100), unit="USD", checked_at=checked_at)
