"""SRTGen (subtitles): `credits.totalBalance`; plan status and storage fill as extra signals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alertd.core.model import Reading, Signal
from alertd.errors import ResponseError
from alertd.providers.base import (
    Provider,
    SimulatedAccount,
    as_number,
    field,
    number,
    require_object,
)
from alertd.text import printable


class SrtGen(Provider):
    type_name = "srtgen"
    title = "SRTGen credits, plan status, storage"
    docs_url = "https://www.srtgen.com/en/docs/balance"
    path = "/api/v1/balance"
    default_base_url = "https://api.srtgen.com"
    reports_capacity = True

    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    @classmethod
    def simulated_body(cls, account: SimulatedAccount) -> Any:
        limit = 10 * 1024**3
        return {
            "success": True,
            "user": {"name": "Sim", "email": "sim@example.com"},
            "credits": {
                "totalBalance": int(account.balance),
                "totalMonthlyCredits": int(account.capacity),
                "extraCredits": 0,
                "plans": [
                    {
                        "id": "starter",
                        "name": "Starter Plan",
                        "status": account.plan_status,
                        "balance": int(account.balance),
                        "total": int(account.capacity),
                        "resetTime": "2026-12-01T00:00:00.000Z",
                    }
                ],
            },
            "storage": {
                "usage": int(limit * account.storage_ratio),
                "limit": limit,
                "formattedUsage": f"{float(account.storage_ratio) * 10:.1f} GB",
                "formattedLimit": "10 GB",
            },
            "updatedAt": "2026-11-21T00:00:00.000Z",
        }

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        body = require_object(body)
        total = number(body, "credits.totalBalance")
        extra = number(body, "credits.extraCredits")
        plans = field(body, "credits.plans")
        if not isinstance(plans, list):
            raise ResponseError("unexpected response: credits.plans is not a list")
        capacity = extra
        breakdown = {"extra": extra}
        bad_plans: list[str] = []
        for index, plan in enumerate(plans):
            where = f"credits.plans[{index}]"
            if not isinstance(plan, dict):
                raise ResponseError(f"unexpected response: {where} is not an object")
            name = plan.get("name")
            name = printable(name, 60) if isinstance(name, str) else f"plan {index + 1}"
            capacity += as_number(plan.get("total"), f"{where}.total")
            if plan.get("balance") is not None:
                breakdown[str(name)] = as_number(plan["balance"], f"{where}.balance")
            status = plan.get("status")
            if status != "active":
                shown = printable(status, 40) if isinstance(status, str) else "unknown"
                bad_plans.append(f"{name} is {shown}")
        signals = [
            Signal(
                check="plan_status",
                detail="; ".join(bad_plans) or "all plans active",
                flagged=bool(bad_plans),
            )
        ]
        storage = body.get("storage")
        if isinstance(storage, dict) and "usage" in storage and "limit" in storage:
            usage = as_number(storage["usage"], "storage.usage")
            limit = as_number(storage["limit"], "storage.limit")
            if limit > 0:
                shown = (
                    f"{printable(str(storage['formattedUsage']), 40)}"
                    f" of {printable(str(storage['formattedLimit']), 40)}"
                    if storage.get("formattedUsage") and storage.get("formattedLimit")
                    else f"{usage} of {limit} bytes"
                )
                try:  # a limit of 1e-999999999 bytes overflows the division: refused
                    ratio = as_number(usage / limit, "storage.usage / storage.limit")
                except ArithmeticError:
                    raise ResponseError(
                        "unexpected response: storage.limit is implausible"
                    ) from None
                signals.append(
                    Signal(
                        check="storage",
                        detail=f"storage {shown} used ({ratio * 100:.0f}%)",
                        ratio=ratio,
                    )
                )
        return Reading(
            amount=total,
            unit="credits",
            checked_at=checked_at,
            capacity=capacity,
            breakdown=breakdown,
            signals=tuple(signals),
        )
