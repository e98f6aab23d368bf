"""Browser7 (render farm): balance in cents, 1 cent = 1 render; paid/free/bonus breakdown."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from alertd.core.model import Reading
from alertd.providers.base import Provider, SimulatedAccount, field, number, require_object

CENTS = Decimal(100)


class Browser7(Provider):
    type_name = "browser7"
    title = "Browser7 account balance in USD (and renders)"
    docs_url = "https://docs.browser7.com/api/endpoints/account-balance"
    path = "/v1/account/balance"
    default_base_url = "https://api.browser7.com"

    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    @classmethod
    def simulated_body(cls, account: SimulatedAccount) -> Any:
        cents = int(account.balance * CENTS)
        shown = f"${account.balance:,.2f}"
        return {
            "totalBalanceCents": cents,
            "totalBalanceFormatted": shown,
            "breakdown": {
                "paid": {"cents": cents, "formatted": shown},
                "free": {"cents": 0, "formatted": "$0.00"},
                "bonus": {"cents": 0, "formatted": "$0.00"},
            },
        }

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        body = require_object(body)
        cents = number(body, "totalBalanceCents")
        breakdown: dict[str, Decimal] = {}
        if isinstance(body.get("breakdown"), dict):
            for kind in ("paid", "free", "bonus"):
                if kind in body["breakdown"]:
                    field(body, f"breakdown.{kind}")
                    breakdown[kind] = number(body, f"breakdown.{kind}.cents") / CENTS
        return Reading(
            amount=cents / CENTS,
            unit="USD",
            checked_at=checked_at,
            breakdown=breakdown,
            alt_per_unit=CENTS,
            alt_unit="renders",
        )
