"""Preset files as data: read and checked when the registry is built, a broken one reported in
one line per problem (naming the file and the key) by every command, never a traceback;
`alertd providers` lists every type; `validate` warns about polling faster than a preset's
minimum interval."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support.cli import run_alertd
from support.configs import load_text, write_config

from alertd import cli
from alertd.config import loader
from alertd.providers import CODE_TYPES, PRESETS, REGISTRY
from alertd.providers.presets import PRESET_DIR, load_presets

GOOD = """
title: Example balance
docs: https://docs.example.com/balance
min_interval: 2m
base_url: https://api.example.com
path: /balance
auth: {header: Authorization, prefix: "Bearer "}
expression: balance
unit: USD
"""


def presets_in(tmp_path: Path, **files: str) -> tuple[list[str], list[str]]:
    """Loads `files` (name -> YAML) as a preset folder: (valid names, problems)."""
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    presets, problems = load_presets(tmp_path, reserved=CODE_TYPES)
    return sorted(presets), problems


def test_the_shipped_presets_are_all_valid() -> None:
    presets, problems = load_presets(PRESET_DIR, reserved=CODE_TYPES)
    assert problems == []
    assert sorted(presets) == sorted(PRESETS)
    assert len(PRESETS) == len(list(PRESET_DIR.glob("*.yaml")))


def test_a_good_preset_file_loads(tmp_path: Path) -> None:
    names, problems = presets_in(tmp_path, example=GOOD)
    assert (names, problems) == (["example"], [])


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "bad",
            GOOD.replace("expression: balance", "expression: 'a[?'"),
            [
                "expression: invalid JMESPath expression: Invalid jmespath expression: Incomplete"
                ' expression: "a[?"'
            ],
        ),
        ("bad", GOOD.replace("unit: USD", "unit: USD\nbogus: 1"), ["bogus: unknown key"]),
        ("bad", GOOD.replace("title: Example balance\n", ""), ["title: required key is missing"]),
        (
            "bad",
            GOOD.replace("https://docs.example.com", "http://docs.example.com"),
            ["docs: must be an https:// link to the provider's documentation"],
        ),
        ("bad", GOOD.replace("path: /balance\n", ""), ["path: required for type bad"]),
        (
            "bad",
            GOOD.replace("base_url: https://api.example.com\n", ""),
            ["base_url: required in a preset"],
        ),
        (
            "bad",
            GOOD.replace("min_interval: 2m", "min_interval: 0s"),
            ["min_interval: must be at least 1s"],
        ),
        (
            "bad",
            GOOD + "unit: EUR\n",
            [
                "line 9 and line 10: top level: 'unit' is given twice; only the last would count,"
                " remove one"
            ],
        ),
        (
            "bad",
            "title: [unclosed\n",
            ["line 2, column 1: YAML syntax error: expected ',' or ']', but got '<stream end>'"],
        ),
        ("bad", "- a list\n", ["the top level must be a mapping of keys"]),
        ("browser7", GOOD, ["'browser7' is the name of a built-in type"]),
        ("Bad_Name", GOOD, ["the file name must be lowercase letters, digits and '-', then .yaml"]),
    ],
    ids=[
        "expression",
        "unknown-key",
        "missing-title",
        "docs-not-https",
        "no-path",
        "no-base-url",
        "min-interval",
        "duplicate-key",
        "yaml-syntax",
        "not-a-mapping",
        "code-type-name",
        "file-name",
    ],
)
def test_a_broken_preset_file_is_one_line_per_problem(
    tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    names, problems = presets_in(tmp_path, **{name: text, "fine": GOOD})
    assert names == ["fine"]  # the others still load
    path = tmp_path / f"{name}.yaml"
    assert problems == [f"preset {path}: {line}" for line in expected]


def test_a_broken_preset_stops_every_command_with_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As an installation with a broken file would be: every config load refuses, naming it."""
    line = f"preset {PRESET_DIR}/x.yaml: expression: invalid JMESPath expression"
    monkeypatch.setattr(loader, "PRESET_PROBLEMS", [line])
    config = write_config(tmp_path, "providers:\n  p: {type: deepl, api_key: k}\n")
    assert cli.main(["validate", "-c", str(config)]) == 1
    assert cli.main(["check", "-c", str(config)]) == 3
    err = capsys.readouterr().err
    assert err.splitlines() == [line, line]
    assert "Traceback" not in err


# -- merging and warnings ------------------------------------------------------------------


def test_three_lines_make_a_provider(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path, "providers:\n  translate:\n    type: deepl\n    api_key: k\n    warning: 10%\n"
    )
    provider = settings.providers["translate"]
    assert provider.url == "https://api.deepl.com/v2/usage"
    assert provider.has_capacity()  # so that 10% is accepted
    assert not any("translate" in line for line in settings.warnings)


NO_NOTIFIERS = (
    "warning: no notifiers configured: alerts are only written to the log, nobody is notified"
)


def test_polling_faster_than_a_presets_minimum_is_a_warning(tmp_path: Path) -> None:
    text = "providers:\n  captcha: {type: anticaptcha, api_key: k, interval: 10s, warning: 5}\n"
    path = tmp_path / "config.yaml"
    assert load_text(tmp_path, text).warnings == (
        f"{path}: {NO_NOTIFIERS}",
        f"{path}: warning: provider 'captcha': interval 10s is shorter than the 30s anticaptcha"
        " should be polled at most every (its rate limits:"
        " https://anti-captcha.com/apidoc/methods/getBalance)",
    )
    at_minimum = load_text(tmp_path, text.replace("10s", "30s"))
    assert at_minimum.warnings == (f"{path}: {NO_NOTIFIERS}",)


def test_validate_prints_the_interval_warning_and_exits_0(tmp_path: Path) -> None:
    text = "providers:\n  captcha: {type: anticaptcha, api_key: k, interval: 10s, warning: 5}\n"
    config = write_config(tmp_path, text)
    result = run_alertd("validate", "-c", str(config), cwd=tmp_path)
    assert result.code == 0
    assert "interval 10s is shorter than the 30s anticaptcha should be polled" in result.stderr
    assert "provider captcha: anticaptcha, every 10s" in result.stdout


def test_an_unknown_type_lists_the_code_types_and_the_presets(tmp_path: Path) -> None:
    result = run_alertd(
        "validate",
        "-c",
        str(write_config(tmp_path, "providers:\n  p: {type: deepl-pro, api_key: k}\n")),
        cwd=tmp_path,
    )
    assert result.code == 1
    assert result.stderr.strip() == (
        f"{tmp_path / 'config.yaml'}: provider 'p': type: 'deepl-pro' is not a provider type;"
        " known: browser7, youcom, lobstr, srtgen, decaptcha, http_json; presets: "
        + ", ".join(sorted(PRESETS))
    )


# -- alertd providers ------------------------------------------------------------------------


def test_providers_lists_every_type_with_its_docs(tmp_path: Path) -> None:
    result = run_alertd("providers", cwd=tmp_path)
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "KIND", "WATCHES", "KEY", "GOES", "IN", "DOCS"]
    assert [line.split()[0] for line in lines[1:]] == list(REGISTRY)
    for line in lines[1:]:
        name = line.split()[0]
        assert line.endswith(f"  {REGISTRY[name].docs_url}"), line
    [deepl] = [line for line in lines if line.startswith("deepl ")]
    assert "preset" in deepl
    assert "header Authorization: DeepL-Auth-Key KEY" in deepl


def test_providers_json(tmp_path: Path) -> None:
    result = run_alertd("providers", "--json", cwd=tmp_path)
    assert result.code == 0
    rows = {row["type"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(REGISTRY)
    assert rows["browser7"] == {
        "type": "browser7",
        "kind": "code",
        "title": "Browser7 account balance in USD (and renders)",
        "key": "header Authorization: Bearer KEY",
        "docs": "https://docs.browser7.com/api/endpoints/account-balance",
        "min_interval": None,
    }
    assert rows["http_json"]["kind"] == "generic"
    assert rows["anticaptcha"]["key"] == 'JSON body {"clientKey": KEY}'
    assert rows["anticaptcha"]["min_interval"] == "30s"
    assert rows["serpapi"]["key"] == "query ?api_key=KEY"
    assert rows["twilio"]["key"] == "HTTP Basic USER:PASSWORD"
    assert all(row["docs"].startswith("https://") for row in rows.values())
    assert all(row["title"] for row in rows.values())
