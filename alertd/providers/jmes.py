"""JMESPath over decoded bodies, on Decimals: how http_json and the presets read a body.

JMESPath (not JSONPath) because it has one specification with a conformance suite and a
well-kept Python implementation, and its expressions return plain values, not match lists.
It cannot subtract, which is why http_json has `used_expression` (remaining = capacity −
used) instead of asking for `limit - used`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.functions import Functions, signature
from jmespath.parser import ParsedResult

from alertd.errors import ResponseError
from alertd.providers.base import as_number, decimal_from_text


def compile_expression(expression: str) -> ParsedResult:
    """Raises ValueError with JMESPath's own explanation (on one line) for a malformed one."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"invalid JMESPath expression: {_one_line(str(exc))}") from None


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


def search(expression: ParsedResult, body: Any) -> Any:
    """The expression's result; a failure inside JMESPath is the body's fault, not alertd's."""
    try:
        return expression.search(body, _OPTIONS)
    except JMESPathError as exc:
        raise ResponseError(f"unexpected response: {type(exc).__name__}") from None
    except ArithmeticError:  # decimal.Overflow in sum()/avg()/abs() over 1e999999999
        raise ResponseError("unexpected response: a number in the body is out of range") from None


def number_of(result: Any, what: str) -> Decimal:
    """An expression's result as a Decimal: a JSON number, or numeric text ("1,250.75")."""
    if isinstance(result, str):
        return decimal_from_text(result, what)
    if isinstance(result, int | float) and not isinstance(result, bool):
        return as_number(Decimal(str(result)), what)
    if result is None:
        raise ResponseError(f"unexpected response: {what} matched nothing")
    return as_number(result, what)


def truthy(result: Any) -> bool:
    """Whether an error expression fired: JMESPath's truth (not null, false, "", [] or {}),
    and not the number 0 either, so that `errorId` alone can be the whole test."""
    if isinstance(result, bool):
        return result
    if isinstance(result, Decimal | int | float):
        return result != 0
    return result not in (None, "", [], {})
