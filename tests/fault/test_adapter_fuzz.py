"""Fuzzed provider bodies: whatever a provider sends, a poll ends in a Reading or a ProviderError.

Every body goes through `decode_json` then `parse`, exactly as `Provider.fetch` does. The
property: the result is a Reading whose amount (and capacity, and breakdown) is a finite
Decimal, or a ProviderError with a non-empty reason that never carries the API key. Anything
else escaping (decimal.Overflow, RecursionError, TypeError...) would cost a poll its result
and is a bug in the adapter.

Every preset is here too, with the bodies of its fixture folder. Bodies come from three
generators: (a) arbitrary JSON values, (b) the documented shapes of
tests/fixtures/ with fields replaced by wrong types, absurd numbers and number-like strings,
or removed, (c) raw bytes: truncated or corrupted real bodies, random bytes, other encodings,
and very deep nesting. A last group checks that well-formed bodies normalize exactly.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertd.config.model import ProviderConfig
from alertd.core.model import Reading
from alertd.errors import ProviderError
from alertd.providers import PRESETS, build
from alertd.providers.base import Provider, decode_json

pytestmark = pytest.mark.fault

FIXTURES = Path(__file__).parent.parent / "fixtures"
CHECKED_AT = datetime(2026, 3, 29, 17, 50, tzinfo=UTC)
KEY = "SENTINEL-KEY-5c1d9e"

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXACT = settings(max_examples=150, deadline=None)


def fixture(provider_type: str, name: str) -> Any:
    return json.loads((FIXTURES / provider_type / f"{name}.json").read_text())


USD_MINOR = "account.wallets[?currency=='USD'].balance_minor | [0]"

# id -> (type, settings, documented shapes)
PROVIDERS: dict[str, tuple[str, dict[str, Any], list[Any]]] = {
    "browser7": (
        "browser7",
        {},
        [fixture("browser7", "balance_1700"), fixture("browser7", "balance_3250")],
    ),
    "youcom": ("youcom", {}, [fixture("youcom", "balance")]),
    "lobstr": (
        "lobstr",
        {},
        [fixture("lobstr", "balance"), {**fixture("lobstr", "balance"), "has_unpaid_bill": True}],
    ),
    "srtgen": (
        "srtgen",
        {},
        [fixture("srtgen", "balance"), fixture("srtgen", "balance_past_due")],
    ),
    "decaptcha": (
        "decaptcha",
        {},
        [
            fixture("decaptcha", "balance"),
            fixture("decaptcha", "balance_separators"),
            fixture("decaptcha", "unauthorized"),
        ],
    ),
    "http_json-filter": (
        "http_json",
        {
            "path": "/wallet",
            "expression": USD_MINOR,
            "scale": "100",
            "unit": "USD",
            "capacity_expression": "sum(account.plans[].total)",
        },
        [fixture("http_json", "wallets")],
    ),
    "http_json-text": (
        "http_json",
        {"path": "/b", "expression": "data.balance", "scale": "1000"},
        [{"data": {"balance": "1,234.50", "currency": "USD"}}, {"data": {"balance": 1234.5}}],
    ),
    "http_json-functions": (
        "http_json",
        {
            "path": "/b",
            "expression": "avg(items[].v)",
            "capacity_expression": "max([to_number(limit), abs(floor)])",
        },
        [{"items": [{"v": 1.5}, {"v": 2.25}], "limit": "500", "floor": -20}],
    ),
}
# Every preset, with the documented bodies of its fixture folder: its expressions (balance,
# used, capacity, reset, unit, errors) meet the same bodies as the code types.
PROVIDERS.update(
    {
        name: (
            name,
            {},
            [fixture(name, path.stem) for path in sorted((FIXTURES / name).glob("*.json"))],
        )
        for name in PRESETS
    }
)
PROVIDER_IDS = list(PROVIDERS)
KNOWN_KEYS = sorted(
    {
        key
        for _, _, shapes in PROVIDERS.values()
        for shape in shapes
        for key in json.dumps(shape).split('"')[1::2]
        if key.replace("_", "").isalnum()
    }
)


def make(provider_id: str) -> Provider:
    provider_type, extra, _ = PROVIDERS[provider_id]
    config: dict[str, Any] = {"type": provider_type, "base_url": "http://127.0.0.1:9"}
    if provider_type != "http_json":
        config["api_key"] = KEY
    return build(provider_id, ProviderConfig(**(config | extra)))


ADAPTERS = {provider_id: make(provider_id) for provider_id in PROVIDERS}


# -- JSON text with numbers written exactly as given ----------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON number literal (or a bare constant like NaN) put into the body as is."""

    text: str


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


# -- the property ------------------------------------------------------------------------------


def outcome(provider: Provider, raw: bytes) -> Reading | ProviderError:
    """decode then parse, as fetch() does; anything but a Reading or a ProviderError escapes."""
    result: Reading | ProviderError
    try:
        result = provider.parse(decode_json(raw), CHECKED_AT)
    except ProviderError as exc:
        result = exc
    if isinstance(result, ProviderError):
        _check_error(result)
    else:
        _check_reading(result)
    return result


def _check_error(exc: ProviderError) -> None:
    assert isinstance(exc.reason, str), repr(exc)
    assert exc.reason.strip(), f"empty reason: {exc!r}"
    assert KEY not in exc.reason


def _check_reading(reading: Reading) -> None:
    assert isinstance(reading, Reading), repr(reading)
    assert type(reading.amount) is Decimal, repr(reading.amount)
    assert reading.amount.is_finite(), repr(reading.amount)
    if reading.capacity is not None:
        assert type(reading.capacity) is Decimal
        assert reading.capacity.is_finite()
    for part in reading.breakdown.values():
        assert type(part) is Decimal
        assert part.is_finite()


# -- (a) arbitrary JSON values -------------------------------------------------------------------

NUMBERISH = [
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999",
    "-1e999",
    "1e999999999",
    "1e9999999999999999999",
    "1e-999999999",
    "1,250.75",
    "-1,250.75",
    "1,000,000.5",
    "1,25",
    "1,2,3",
    ",",
    "-0",
    "+0",
    "0",
    "",
    " ",
    "  12.5  ",
    "1_000",
    "0x1F",
    "١٢٣",
    "12.5.1",
    "$12.50",
    "12.50 USD",
    "\u00a012",
    "\ud800",
    "9" * 30,
    "-",
    ".",
    "e5",
    "1e",
    "true",
    f"Invalid API key {KEY}",
]
LITERALS = [
    "1e999999999",
    "-1e999999999",
    "1E+1000000",
    "9.99e999999",
    "1e-999999999",
    "-1e-999999999",
    "0e999999999",
    "1e9999999999999999999",
    "-1e-9999999999999999999",
    "-0",
    "-0.0",
    "0.000",
    "999999999999999.99",
    "1000000000000000",
    "-999999999999999",
    "123456789012345678901234567890.123456789",
    "NaN",
    "Infinity",
    "-Infinity",
]
# Long digit strings are built, not listed: a strategy's repr holding them costs megabytes.
long_digits = st.sampled_from([30, 400, 5000]).flatmap(
    lambda n: st.sampled_from(["1" + "0" * n, "0." + "0" * n + "1", "-" + "9" * n])
)
number_literals = st.one_of(
    st.sampled_from(LITERALS),
    long_digits,
    st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,22})?", fullmatch=True),
).map(Raw)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 10**15, 10**15 - 1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(NUMBERISH),
    long_digits,
    number_literals,
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=40,
)


def _nest(args: tuple[Any, int, str]) -> Any:
    value, depth, key = args
    for level in range(depth):
        value = [value] if level % 2 else {key: value}
    return value


deeply_nested = st.tuples(json_values, st.integers(1, 300), st.sampled_from(KNOWN_KEYS)).map(_nest)


@settings(FUZZ, max_examples=300)
@given(value=st.one_of(json_values, deeply_nested))
def test_arbitrary_json(value: Any) -> None:
    raw = dump(value).encode()
    for adapter in ADAPTERS.values():  # generating is the cost: every adapter reads each body
        outcome(adapter, raw)


# -- (b) documented shapes with fields replaced ----------------------------------------------

Path_ = tuple[str | int, ...]


def spots(value: Any, here: Path_ = ()) -> list[Path_]:
    """Every position below the root: object members and list items, at any depth."""
    found: list[Path_] = []
    items: list[tuple[str | int, Any]] = (
        list(value.items())
        if isinstance(value, dict)
        else list(enumerate(value))
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        found.append((*here, key))
        found.extend(spots(child, (*here, key)))
    return found


def at(value: Any, path: Path_) -> Any:
    for part in path:
        value = value[part]
    return value


wrong_values = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(NUMBERISH),
    number_literals,
    st.sampled_from([[], {}, [1], {"cents": 1}, [{}], "", 0, -1]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    json_values,
)


@st.composite
def mutated_shapes(draw: st.DrawFn, provider_id: str) -> Any:
    body = copy.deepcopy(draw(st.sampled_from(PROVIDERS[provider_id][2])))
    for _ in range(draw(st.integers(1, 3))):
        positions = spots(body)
        if not positions:
            break
        path = draw(st.sampled_from(positions))
        parent, last = at(body, path[:-1]), path[-1]
        if draw(st.integers(0, 3)) == 0:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(draw(wrong_values))  # never share a constant
    return body


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
@FUZZ
@given(data=st.data())
def test_documented_shape_with_wrong_fields(provider_id: str, data: st.DataObject) -> None:
    body = data.draw(mutated_shapes(provider_id), label="body")
    outcome(ADAPTERS[provider_id], dump(body).encode())


# -- (c) raw bytes ---------------------------------------------------------------------------------


ALL_SHAPES = [shape for _, _, shapes in PROVIDERS.values() for shape in shapes]


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    real = dump(draw(st.sampled_from(ALL_SHAPES))).encode()
    kind = draw(st.sampled_from(["prefix", "flip", "suffix", "random", "encoding"]))
    if kind == "prefix":
        return real[: draw(st.integers(0, len(real)))]
    if kind == "flip":
        spot = draw(st.integers(0, len(real) - 1))
        return real[:spot] + draw(st.binary(min_size=1, max_size=3)) + real[spot + 1 :]
    if kind == "suffix":
        return real[: draw(st.integers(0, len(real)))] + draw(st.binary(max_size=40))
    if kind == "random":
        return draw(st.binary(max_size=300))
    encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "utf-8-sig", "latin-1"]))
    return real.decode().encode(encoding)


@settings(FUZZ, max_examples=400)
@given(raw=raw_bodies())
def test_raw_bytes(raw: bytes) -> None:
    for adapter in ADAPTERS.values():
        outcome(adapter, raw)


def _deep_bodies() -> list[tuple[str, bytes]]:
    bodies = [
        ("open-arrays", b"[" * 100_000),
        ("open-objects", b'{"a":' * 100_000),
        ("closed-arrays", b"[" * 100_000 + b"]" * 100_000),
        ("closed-objects", b'{"data":' * 100_000 + b"1" + b"}" * 100_000),
        ("mixed", b'[{"x":' * 50_000),
    ]
    return bodies


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
@pytest.mark.parametrize(("label", "raw"), _deep_bodies(), ids=[b[0] for b in _deep_bodies()])
def test_very_deep_nesting(provider_id: str, label: str, raw: bytes) -> None:
    assert isinstance(outcome(ADAPTERS[provider_id], raw), ProviderError), label


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
def test_deep_nesting_in_every_field(provider_id: str) -> None:
    """A nested list as deep as decoding allows, put in each field of the documented shapes."""
    for shape in PROVIDERS[provider_id][2]:
        for path in spots(shape):
            for depth in (50, 400, 800, 950, 990, 1_000, 5_000, 100_000):
                body = copy.deepcopy(shape)
                at(body, path[:-1])[path[-1]] = Raw("[" * depth + "]" * depth)
                outcome(ADAPTERS[provider_id], dump(body).encode())


# -- well-formed bodies normalize exactly --------------------------------------------------------

# An exact decimal with at most 13 integer digits and 4 places, built without rounding.
amounts = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(-(10**13), 10**13),
    st.integers(0, 4),
)
non_negative = amounts.map(abs)


def reading_of(provider_id: str, body: Any) -> Reading:
    result = outcome(ADAPTERS[provider_id], dump(body).encode())
    assert isinstance(result, Reading), f"refused a valid body: {result}"
    return result


def lit(value: Decimal) -> Raw:
    return Raw(str(value))


@EXACT
@given(cents=amounts, paid=amounts, free=non_negative)
def test_browser7_cents_become_dollars(cents: Decimal, paid: Decimal, free: Decimal) -> None:
    body = {
        "totalBalanceCents": lit(cents),
        "breakdown": {"paid": {"cents": lit(paid)}, "free": {"cents": lit(free)}},
    }
    reading = reading_of("browser7", body)
    assert reading.amount == cents.scaleb(-2)
    assert dict(reading.breakdown) == {"paid": paid.scaleb(-2), "free": free.scaleb(-2)}
    assert (reading.unit, reading.alt_per_unit, reading.alt_unit) == (
        "USD",
        Decimal(100),
        "renders",
    )


@EXACT
@given(cents=amounts)
def test_youcom_fractional_cents(cents: Decimal) -> None:
    reading = reading_of("youcom", {"data": {"attributes": {"balance": lit(cents)}}})
    assert reading.amount == cents.scaleb(-2)
    assert reading.unit == "USD"


@EXACT
@given(available=non_negative, consumed=non_negative, rollover=non_negative)
def test_lobstr_available_minus_consumed(
    available: Decimal, consumed: Decimal, rollover: Decimal
) -> None:
    body = {
        "available": lit(available),
        "consumed": lit(consumed),
        "rollover_credit": lit(rollover),
        "has_unpaid_bill": False,
    }
    reading = reading_of("lobstr", body)
    assert reading.amount == available - consumed  # both exact: no rounding at 14 digits
    assert reading.capacity == available
    assert reading.breakdown["rollover_credit"] == rollover
    assert reading.amount <= available  # rollover is reported, never added


@EXACT
@given(
    total=amounts,
    extra=non_negative,
    plan_totals=st.lists(non_negative.map(lambda d: d.quantize(Decimal(1))), max_size=4),
)
def test_srtgen_total_and_capacity(
    total: Decimal, extra: Decimal, plan_totals: list[Decimal]
) -> None:
    plans = [
        {"name": f"p{i}", "status": "active", "total": lit(t)} for i, t in enumerate(plan_totals)
    ]
    body = {"credits": {"totalBalance": lit(total), "extraCredits": lit(extra), "plans": plans}}
    reading = reading_of("srtgen", body)
    assert reading.amount == total
    assert reading.capacity == sum(plan_totals, extra)


@EXACT
@given(
    amount=amounts.map(lambda d: d.quantize(Decimal("0.01"))),
    grouped=st.booleans(),
    pad=st.sampled_from(["", " ", "  "]),
)
def test_decaptcha_text_with_separators(amount: Decimal, grouped: bool, pad: str) -> None:
    text = f"{amount:,}" if grouped else str(amount)
    reading = reading_of("decaptcha", {"isSuccess": True, "data": pad + text + pad})
    assert reading.amount == amount
    assert reading.unit == "USD"


@EXACT
@given(minor=amounts, eur=amounts)
def test_http_json_expression_and_scale(minor: Decimal, eur: Decimal) -> None:
    body = {
        "account": {
            "wallets": [
                {"currency": "EUR", "balance_minor": lit(eur)},
                {"currency": "USD", "balance_minor": lit(minor)},
            ],
            "plans": [{"total": Raw("100000")}, {"total": Raw("50000.5")}],
        }
    }
    reading = reading_of("http_json-filter", body)
    assert reading.amount == minor.scaleb(-2)
    assert reading.capacity == Decimal("1500.005")
    assert reading.unit == "USD"


@EXACT
@given(limit=non_negative, count=non_negative)
def test_preset_remaining_is_capacity_minus_used(limit: Decimal, count: Decimal) -> None:
    reading = reading_of("deepl", {"character_count": lit(count), "character_limit": lit(limit)})
    assert reading.amount == limit - count  # negative when usage went past the limit
    assert reading.capacity == limit
    assert reading.unit == "characters"


@EXACT
@given(amount=amounts, currency=st.sampled_from(["USD", "EUR", "CNY"]))
def test_preset_decimal_strings_stay_exact(amount: Decimal, currency: str) -> None:
    body = {"data": {"available_credit": str(amount), "currency": currency}}
    reading = reading_of("telnyx", body)
    assert reading.amount == amount
    assert reading.unit == currency


# -- the crashes hypothesis found, pinned (each escaped as a decimal signal before the fix) ------

SRTGEN_TINY_LIMIT = (
    '{"credits": {"totalBalance": 310, "extraCredits": 60, "plans": []},'
    ' "storage": {"usage": 9663676416, "limit": 1e-999999999}}'
)
FOUND = [
    # decode_json: Decimal() refuses an exponent beyond 10**18 with InvalidOperation
    ("browser7", "1e9999999999999999999"),
    ("decaptcha", '{"isSuccess": true, "data": "1", "x": -1e-9999999999999999999}'),
    # base._plausible: abs() rounds to the context, Overflow above Emax
    ("browser7", '{"totalBalanceCents": 1e999999999}'),
    ("lobstr", '{"available": 10000, "consumed": 1E+1000000}'),
    ("youcom", '{"data": {"attributes": {"balance": -1e999999999}}}'),
    # http_json: sum()/avg() add in the decimal context, Overflow
    ("http_json-functions", '{"items": [{"v": 1e999999999}, {"v": 2.25}], "limit": "500"}'),
    # srtgen: usage / limit with a limit of 1e-999999999 bytes, Overflow
    ("srtgen", SRTGEN_TINY_LIMIT),
]


@pytest.mark.parametrize(("provider_id", "body"), FOUND)
def test_found_crashes_are_refused(provider_id: str, body: str) -> None:
    result = outcome(ADAPTERS[provider_id], body.encode())
    assert isinstance(result, ProviderError)
    assert "out of range" in result.reason or "implausib" in result.reason, result.reason
