"""Any other balance API from config alone: a URL, headers and a JMESPath expression.

JMESPath (not JSONPath) because it has one specification with a conformance suite and a
well-kept Python implementation, and its expressions return plain values, not match lists.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.functions import Functions, signature
from jmespath.parser import ParsedResult

from alertd.core.model import Reading
from alertd.errors import ResponseError
from alertd.providers.base import Provider, as_number, decimal_from_text


def compile_expression(expression: str) -> ParsedResult:
    """Raises ValueError with JMESPath's own explanation for a malformed expression."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"invalid JMESPath expression: {exc}") from None


def _one_line(message: str) -> str:
    """JMESPath explains on three lines (message, expression, caret): one line here."""
    parts = [part.strip() for part in message.splitlines()]
    return " ".join(part for part in parts if part and set(part) != {"^"})


class _DecimalFunctions(Functions):
    """JMESPath's functions (sum, max, abs...) taking Decimal, the type of every JSON number here.

    Stock jmespath type-checks by Python type name (int, float) and refuses Decimal, so
    `sum(plans[].total)` failed on every real body. (The stubs omit these private hooks.)
    """

    def _get_allowed_pytypes(self, types: Any) -> Any:
        allowed, subtypes = super()._get_allowed_pytypes(types)  # type: ignore[misc]

        def widen(names: Any) -> Any:
            return [*names, "Decimal"] if "int" in names else names

        return widen(allowed), [widen(names) for names in subtypes]

    def _convert_to_jmespath_type(self, pyobject: Any) -> Any:
        if pyobject == "Decimal":
            return "number"
        return super()._convert_to_jmespath_type(pyobject)  # type: ignore[misc]

    @signature({"types": []})
    def _func_to_number(self, arg: Any) -> Any:
        return arg if isinstance(arg, Decimal) else super()._func_to_number(arg)  # type: ignore[misc]

    @signature({"types": []})
    def _func_type(self, arg: Any) -> Any:
        return "number" if isinstance(arg, Decimal) else super()._func_type(arg)  # type: ignore[misc]


_OPTIONS = jmespath.Options(custom_functions=_DecimalFunctions())


def _value(result: Any, what: str) -> Decimal:
    if isinstance(result, str):
        return decimal_from_text(result, what)
    if isinstance(result, int | float) and not isinstance(result, bool):
        return as_number(Decimal(str(result)), what)
    if result is None:
        raise ResponseError(f"unexpected response: {what} matched nothing")
    return as_number(result, what)


class HttpJson(Provider):
    type_name = "http_json"
    needs_api_key = False
    accepts_unit = True
    simulated = False  # its shape is whatever the config says

    def config_problems(self) -> list[str]:
        problems = super().config_problems()
        for key in ("path", "expression"):
            if not getattr(self.config, key):
                problems.append(f"{key}: required for type http_json")
        for key in ("expression", "capacity_expression"):
            expression = getattr(self.config, key)
            if expression:
                try:
                    compile_expression(expression)
                except ValueError as exc:
                    problems.append(f"{key}: {_one_line(str(exc))}")
        return problems

    def endpoint_path(self) -> str:
        path = self.config.path or ""
        return path if path.startswith("/") or not path else "/" + path

    def request_headers(self) -> dict[str, str]:
        headers = super().request_headers()
        headers.update({k: v.get_secret_value() for k, v in self.config.headers.items()})
        return headers

    def has_capacity(self) -> bool:
        return bool(self.config.capacity_expression)

    @cached_property
    def _balance(self) -> ParsedResult:
        return compile_expression(self.config.expression or "")

    @cached_property
    def _capacity(self) -> ParsedResult | None:
        expression = self.config.capacity_expression
        return compile_expression(expression) if expression else None

    def parse(self, body: Any, checked_at: datetime) -> Reading:
        scale = self.config.scale
        try:
            amount = _value(self._balance.search(body, _OPTIONS), "balance expression") / scale
            capacity = (
                _value(self._capacity.search(body, _OPTIONS), "capacity expression") / scale
                if self._capacity is not None
                else None
            )
        except JMESPathError as exc:
            raise ResponseError(f"unexpected response: {type(exc).__name__}") from None
        except ArithmeticError:  # decimal.Overflow in sum()/avg()/abs() over 1e999999999
            raise ResponseError(
                "unexpected response: a number in the body is out of range"
            ) from None
        return Reading(
            amount=amount,
            unit=self.config.unit or "units",
            checked_at=checked_at,
            capacity=capacity,
        )
