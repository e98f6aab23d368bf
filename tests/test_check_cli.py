"""`alertd check` and `alertd validate` as an operator (or Nagios) runs them.

Each test starts `python -m alertd` as a separate process against a real HTTP server on
127.0.0.1 that answers on the five providers' documented paths, and reads what a user
reads: the table or JSON on stdout, the one-line errors on stderr, the exit status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli import Result, run_alertd
from support.http_stub import HttpStub, Reply

from alertd.demo.simulator import PATHS

WEB_PATH = "/custom/v2/account"
KEYS = {
    "b7": "key-b7",
    "yc": "key-yc",
    "lob": "key-lob",
    "srt": "key-srt",
    "dc": "key-dc",
}
SENTINEL = "SENTINEL-9f2c-SECRET"

# A body as each type's docs show, from tests/fixtures: "$17.00 (1,700 renders)",
# "$7,189.245", "8,450 credits", 1,250 credits with an active plan, "$1,250.75" from "1,250.75".
FIXTURES = Path(__file__).parent / "fixtures"
DOCUMENTED: dict[str, Any] = {
    kind: json.loads((FIXTURES / kind / name).read_text())
    for kind, name in {
        "browser7": "balance_1700.json",
        "youcom": "balance.json",
        "lobstr": "balance.json",
        "srtgen": "balance.json",
        "decaptcha": "balance_separators.json",
    }.items()
}


def documented(stub: HttpStub, provider_type: str, **changes: Any) -> None:
    """The type's documented body on its documented path, top-level keys replaced by `changes`."""
    stub.answer(PATHS[provider_type], Reply.json({**DOCUMENTED[provider_type], **changes}))


@pytest.fixture
def stub() -> Iterator[HttpStub]:
    """Every provider answering with its documented example body."""
    with HttpStub() as api:
        for provider_type in PATHS:
            documented(api, provider_type)
        credit = {"remaining_cents": 300000, "limit": 500000}
        api.answer(WEB_PATH, Reply.json({"account": {"credit": credit}}))
        yield api


def base_config(url: str) -> dict[str, Any]:
    """Six providers on the stub, all OK against the documented bodies."""
    providers: dict[str, dict[str, Any]] = {
        # balance $17.00, warning exactly at it: not below, so OK
        "b7": {"type": "browser7", "api_key": KEYS["b7"], "warning": 17, "critical": 5},
        "yc": {"type": "youcom", "api_key": KEYS["yc"], "warning": 1000, "critical": 100},
        "lob": {"type": "lobstr", "api_key": KEYS["lob"], "warning": "20%", "critical": 500},
        "srt": {"type": "srtgen", "api_key": KEYS["srt"], "warning": "25%", "critical": 100},
        "dc": {"type": "decaptcha", "api_key": KEYS["dc"], "warning": 100, "critical": 10},
        "web": {
            "type": "http_json",
            "path": WEB_PATH,
            "headers": {"X-Token": "web-token"},
            "expression": "account.credit.remaining_cents",
            "capacity_expression": "account.credit.limit",
            "scale": 100,
            "unit": "EUR",
            "warning": "30%",
        },
    }
    for body in providers.values():
        body["base_url"] = url
    return {"defaults": {"timeout": "10s"}, "providers": providers}


def write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "alertd.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def check(tmp_path: Path, config: dict[str, Any], *extra: str) -> Result:
    return run_alertd("check", "-c", str(write(tmp_path, config)), *extra, cwd=tmp_path)


def table(stdout: str) -> dict[str, dict[str, str]]:
    """The printed table as {provider: {balance, unit, runway, status, detail}}."""
    lines = stdout.strip().splitlines()
    header = ["PROVIDER", "BALANCE", "UNIT", "RUNWAY", "STATUS", "DETAIL"]
    assert re.split(r"\s{2,}", lines[0].strip()) == header
    rows = {}
    for line in lines[1:]:
        provider, *cells = re.split(r"\s{2,}", line.strip(), maxsplit=5)
        rows[provider] = dict(zip([h.lower() for h in header[1:]], cells, strict=True))
    return rows


# What it takes to make one provider warning, critical or unknown.
def make_warning(config: dict[str, Any], stub: HttpStub) -> None:
    config["providers"]["b7"]["warning"] = 20


def make_critical(config: dict[str, Any], stub: HttpStub) -> None:
    config["providers"]["yc"].update(warning=9000, critical=8000)


def make_unknown(config: dict[str, Any], stub: HttpStub) -> None:
    stub.answer(PATHS["decaptcha"], Reply.json({"error": "boom"}, status=503))


# -- the table -------------------------------------------------------------------------------


def test_all_ok_shows_every_balance_in_its_unit_and_exits_0(tmp_path: Path, stub: HttpStub) -> None:
    result = check(tmp_path, base_config(stub.url))
    assert result.code == 0, result
    assert result.stderr == ""
    rows = table(result.stdout)
    assert list(rows) == ["b7", "yc", "lob", "srt", "dc", "web"]
    shown = {name: (row["balance"], row["unit"], row["status"]) for name, row in rows.items()}
    assert shown == {
        "b7": ("$17.00 (1,700 renders)", "USD", "OK"),
        "yc": ("$7,189.245", "USD", "OK"),
        "lob": ("8,450 credits", "credits", "OK"),
        "srt": ("1,250 credits", "credits", "OK"),
        "dc": ("$1,250.75", "USD", "OK"),
        "web": ("€3,000.00", "EUR", "OK"),
    }
    # $17.00 is not strictly below a $17 warning level
    assert rows["b7"]["detail"] == "above warning threshold $17.00 (1,700 renders)"
    assert rows["lob"]["detail"] == "above warning threshold 2,000 credits"  # 20% of 10,000


def test_each_provider_is_asked_with_its_own_auth_header(tmp_path: Path, stub: HttpStub) -> None:
    assert check(tmp_path, base_config(stub.url)).code == 0
    expected = {
        "browser7": ("authorization", f"Bearer {KEYS['b7']}"),
        "youcom": ("x-api-key", KEYS["yc"]),
        "lobstr": ("authorization", f"Token {KEYS['lob']}"),
        "srtgen": ("x-api-key", KEYS["srt"]),
        "decaptcha": ("x-api-key", KEYS["dc"]),
    }
    for provider_type, (header, value) in expected.items():
        seen = stub.seen(PATHS[provider_type])
        assert len(seen) == 1, provider_type
        assert seen[0].headers[header] == value, provider_type
    (web,) = stub.seen(WEB_PATH)
    assert web.headers["x-token"] == "web-token"


def test_warning_exits_1(tmp_path: Path, stub: HttpStub) -> None:
    config = base_config(stub.url)
    make_warning(config, stub)
    result = check(tmp_path, config)
    assert result.code == 1, result
    rows = table(result.stdout)
    assert rows["b7"]["status"] == "WARNING"
    assert rows["b7"]["detail"] == "below warning threshold $20.00 (2,000 renders)"
    assert {r["status"] for name, r in rows.items() if name != "b7"} == {"OK"}


def test_critical_exits_2(tmp_path: Path, stub: HttpStub) -> None:
    config = base_config(stub.url)
    make_critical(config, stub)
    result = check(tmp_path, config)
    assert result.code == 2, result
    rows = table(result.stdout)
    assert rows["yc"] == {
        "balance": "$7,189.245",
        "unit": "USD",
        "runway": "no history yet",  # one reading and no store: no forecast
        "status": "CRITICAL",
        "detail": "below critical threshold $8,000.00",
    }


def test_overdrawn_account_is_critical(tmp_path: Path, stub: HttpStub) -> None:
    documented(stub, "browser7", totalBalanceCents=-300, breakdown={})
    result = check(tmp_path, base_config(stub.url))
    assert result.code == 2, result
    row = table(result.stdout)["b7"]
    assert (row["balance"], row["status"]) == ("-$3.00 (-300 renders)", "CRITICAL")


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (503, b'{"error": "down"}', "cannot check: provider unavailable (HTTP 503)"),
        (401, b'{"error": "Unauthorized"}', "cannot check: credentials rejected (HTTP 401)"),
        (200, b"<html><body>maintenance</body></html>", "HTML response body, not JSON"),
        (
            200,
            b'{"isSuccess": false, "statusCode": 500, "errorMessage": "db down", "data": null}',
            "cannot check: provider reported failure: db down",
        ),
    ],
)
def test_a_provider_that_cannot_be_checked_is_unknown_and_exits_3(
    tmp_path: Path, stub: HttpStub, status: int, body: bytes, reason: str
) -> None:
    stub.answer(PATHS["decaptcha"], Reply(status=status, body=body))
    result = check(tmp_path, base_config(stub.url))
    assert result.code == 3, result
    rows = table(result.stdout)
    assert rows["dc"]["status"] == "UNKNOWN"
    assert rows["dc"]["balance"] == "-"
    assert reason in rows["dc"]["detail"]
    assert rows["b7"]["status"] == "OK"  # the others were still checked
    assert "Traceback" not in result.stderr


def test_extra_signals_raise_a_warning(tmp_path: Path, stub: HttpStub) -> None:
    documented(stub, "lobstr", has_unpaid_bill=True)
    srtgen_credits = {
        "totalBalance": 1250,
        "extraCredits": 250,
        "plans": [{"name": "Starter Plan", "status": "past_due", "balance": 1000, "total": 1000}],
    }
    documented(stub, "srtgen", credits=srtgen_credits)
    result = check(tmp_path, base_config(stub.url))
    assert result.code == 1, result
    rows = table(result.stdout)
    assert (rows["lob"]["status"], rows["lob"]["detail"]) == ("WARNING", "unpaid bill outstanding")
    assert rows["lob"]["balance"] == "8,450 credits"
    assert (rows["srt"]["status"], rows["srt"]["detail"]) == (
        "WARNING",
        "Starter Plan is past_due",
    )


@pytest.mark.parametrize(
    ("problems", "expected"),
    [
        ((make_critical, make_unknown), 2),  # critical outranks unknown
        ((make_unknown, make_warning), 3),  # unknown outranks warning
        ((make_critical, make_warning), 2),
        ((make_critical, make_unknown, make_warning), 2),
    ],
    ids=lambda v: "+".join(f.__name__[5:] for f in v) if isinstance(v, tuple) else str(v),
)
def test_exit_status_precedence(
    tmp_path: Path, stub: HttpStub, problems: tuple[Any, ...], expected: int
) -> None:
    config = base_config(stub.url)
    for make in problems:
        make(config, stub)
    result = check(tmp_path, config)
    assert result.code == expected, result
    statuses = {row["status"] for row in table(result.stdout).values()}
    made = {make_warning: "WARNING", make_critical: "CRITICAL", make_unknown: "UNKNOWN"}
    assert statuses == {"OK"} | {made[make] for make in problems}


# -- JSON ------------------------------------------------------------------------------------


def test_json_output(tmp_path: Path, stub: HttpStub) -> None:
    config = base_config(stub.url)
    make_warning(config, stub)
    make_unknown(config, stub)
    result = check(tmp_path, config, "--json")
    assert result.code == 3, result
    entries = {entry["provider"]: entry for entry in json.loads(result.stdout)}
    assert list(entries) == ["b7", "yc", "lob", "srt", "dc", "web"]

    b7 = entries["b7"]
    assert (b7["type"], b7["status"], b7["unit"]) == ("browser7", "WARNING", "USD")
    assert b7["balance"] == "17"  # exact decimal, as a string
    assert b7["display"] == "$17.00 (1,700 renders)"
    assert b7["breakdown"] == {"paid": "15.75", "free": "0", "bonus": "1.25"}
    assert b7["checks"]["balance"]["severity"] == "warning"

    assert entries["yc"]["balance"] == "7189.245"
    assert entries["yc"]["display"] == "$7,189.245"
    lob = entries["lob"]
    assert (lob["balance"], lob["capacity"], lob["display"]) == ("8450", "10000", "8,450 credits")
    assert lob["checks"]["unpaid_bill"]["severity"] == "ok"
    assert entries["dc"]["status"] == "UNKNOWN"
    assert entries["dc"]["unit"] is None
    assert "HTTP 503" in entries["dc"]["error"]
    assert entries["web"]["display"] == "€3,000.00"
    assert b7["forecast"] == {
        "outlook": "not enough history",
        "burn_rate_per_day": None,
        "runway_seconds": None,
        "runs_out_at": None,
        "resets_at": None,
    }
    assert lob["forecast"]["resets_at"] == "2025-02-01T00:00:00+00:00"  # the documented reset_time


# -- config problems -------------------------------------------------------------------------


def test_bad_config_is_unknown_with_a_one_line_error(tmp_path: Path, stub: HttpStub) -> None:
    config = base_config(stub.url)
    config["providers"]["b7"]["warnign"] = 5
    path = write(tmp_path, config)
    result = run_alertd("check", "-c", str(path), cwd=tmp_path)
    assert result.code == 3, result
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"{path}: provider 'b7': warnign: unknown key"]
    assert stub.seen(PATHS["browser7"]) == []  # nothing was polled


def test_missing_config_is_unknown(tmp_path: Path) -> None:
    result = run_alertd("check", "-c", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert result.code == 3
    assert result.stderr.splitlines() == [f"{tmp_path / 'nope.yaml'}: config file not found"]
    assert "Traceback" not in result.output


def test_config_found_through_alertd_config(tmp_path: Path, stub: HttpStub) -> None:
    path = write(tmp_path, base_config(stub.url))
    result = run_alertd("check", cwd=tmp_path, env={"ALERTD_CONFIG": str(path)})
    assert result.code == 0, result
    assert table(result.stdout)["dc"]["balance"] == "$1,250.75"


def test_validate_exit_codes(tmp_path: Path, stub: HttpStub) -> None:
    path = write(tmp_path, base_config(stub.url))
    good = run_alertd("validate", "-c", str(path), cwd=tmp_path)
    assert good.code == 0, good
    assert good.stdout.splitlines()[0] == f"{path}: valid, 6 provider(s), 0 notifier(s)"
    assert "  provider b7: browser7, every 5m, warning 17, critical 5" in good.stdout
    assert stub.seen(PATHS["browser7"]) == []  # validate polls nothing

    config = base_config(stub.url)
    config["providers"]["b7"]["warning"] = "20%"
    config["providers"]["dc"]["interval"] = "soon"
    path = write(tmp_path, config)
    bad = run_alertd("validate", "-c", str(path), cwd=tmp_path)
    assert bad.code == 1, bad
    assert bad.stdout == ""
    lines = bad.stderr.splitlines()
    assert len(lines) == 2, lines
    assert f"{path}: provider 'dc': interval: 'soon' is not a duration" in lines[0] + lines[1]
    assert all(line.startswith(f"{path}: provider '") for line in lines)
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "order",
    [
        ("-c", "{path}", "--log-level", "debug", "check"),
        ("check", "-c", "{path}", "--log-level", "debug"),
    ],
    ids=["options-before-the-command", "options-after-the-command"],
)
def test_common_options_count_before_or_after_the_command(
    tmp_path: Path, stub: HttpStub, order: tuple[str, ...]
) -> None:
    path = write(tmp_path, base_config(stub.url))
    result = run_alertd(*(arg.format(path=path) for arg in order), cwd=tmp_path)
    assert result.code == 0, result
    assert table(result.stdout)["dc"]["balance"] == "$1,250.75"


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = run_alertd("check", "--bogus", cwd=tmp_path)
    assert result.code == 2
    assert "usage: alertd" in result.stderr


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 401])
def test_check_never_shows_the_api_key(tmp_path: Path, stub: HttpStub, status: int) -> None:
    if status != 200:
        stub.answer(PATHS["browser7"], Reply.json({"error": "Unauthorized"}, status=status))
    config = base_config(stub.url)
    config["providers"]["b7"]["api_key"] = SENTINEL
    path = write(tmp_path, config)
    for extra in ((), ("--json",)):
        result = run_alertd("--log-level", "debug", "check", "-c", str(path), *extra, cwd=tmp_path)
        assert result.code == (0 if status == 200 else 3), result
        assert SENTINEL not in result.output
    assert stub.seen(PATHS["browser7"])[0].headers["authorization"] == f"Bearer {SENTINEL}"
