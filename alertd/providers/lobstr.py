"""Lobstr.io (scraper): remaining = available − consumed, in credits; capacity = available.

Rollover and bonus credits are reported in the breakdown but not added: the docs do not
say whether `available` includes them, and over-stating a balance is the costly mistake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from alertd.core.model import Reading, Signal
from alertd.errors import ResponseError
from alertd.providers.base import Provider, SimulatedAccount, as_number, number, require_object
from alertd.providers.reset import next_month_start, reset_time
from alertd.text import printable


class Lobstr(Provider):
    type_name = "lobstr"
    title = "Lobstr.io credits left this period, unpaid bill"
    docs_url = "https://docs.lobstr.io/docs/get-balance"
    path = "/v1/user/balance"
    default_base_url = "https://api.lobstr.io"
    reports_capacity = True

    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Token {api_key}"}

    @classmethod
    def simulated_body(cls, account: SimulatedAccount) -> Any:
        return {
            "id": "price_sim",
            "object": "plan",
            "name": "Simulated",
            "available": int(account.capacity),
            "consumed": int(account.capacity - account.balance),
            "bonus_credit": 0,
            "rollover_credit": 0,
            "rollover_credit_expires_at": None,
            "interval": "monthly",
            "used_slots": 1,
            "total_available_slots": 20,
            "has_unpaid_bill": account.unpaid_bill,
            "reset_time": next_month_start(datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        body = require_object(body)
        available = number(body, "available")
        consumed = number(body, "consumed")
        breakdown = {"available": available, "consumed": consumed}
        for optional in ("bonus_credit", "rollover_credit"):
            if body.get(optional) is not None:
                breakdown[optional] = as_number(body[optional], optional)
        unpaid = body.get("has_unpaid_bill")
        if unpaid is None:  # absent or null: nothing says a bill is unpaid
            unpaid = False
        if not isinstance(unpaid, bool):
            raise ResponseError("unexpected response: has_unpaid_bill is not a boolean")
        signals = (
            Signal(
                check="unpaid_bill",
                detail="unpaid bill outstanding" if unpaid else "no unpaid bill",
                flagged=unpaid,
            ),
        )
        info: dict[str, str] = {}
        used, total = body.get("used_slots"), body.get("total_available_slots")
        if isinstance(used, Decimal) and isinstance(total, Decimal):
            info["slots"] = f"{used}/{total}"
        for key in ("reset_time", "interval", "name"):
            if isinstance(body.get(key), str):
                info[key if key != "name" else "plan"] = printable(body[key], 80)
        return Reading(
            amount=available - consumed,
            resets_at=reset_time(body.get("reset_time"), "reset_time", checked_at),
            unit="credits",
            checked_at=checked_at,
            capacity=available,
            breakdown=breakdown,
            signals=signals,
            info=info,
        )
