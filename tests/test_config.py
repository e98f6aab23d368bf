"""The config file as a user writes it: what loads, what is refused, and how it is reported.

Every refusal is checked by the one line a user reads (`alertd validate` prints these lines
as they are), and every line must name the file first.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from support.cli import run_alertd
from support.configs import load_text, problems_of, scrub_alertd_env, write_config

from alertd.config import loader
from alertd.config.loader import find_config, load
from alertd.core.rules import Threshold
from alertd.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    scrub_alertd_env(monkeypatch)


def one_provider(body: str, *, notifiers: str = "") -> str:
    """A config with one provider `p` whose keys are `body` (YAML lines, flush left)."""
    indented = "\n".join(f"    {line}" for line in body.strip().splitlines())
    return f"{notifiers}\nproviders:\n  p:\n{indented}\n"


# -- the shipped example ---------------------------------------------------------------------


def test_example_config_is_valid_without_any_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = set(re.findall(r"\$\{([A-Z0-9_]+)", EXAMPLE.read_text(encoding="utf-8")))
    assert {"SMTP_PASSWORD", "BROWSER7_API_KEY"} <= variables
    for name in variables:
        monkeypatch.delenv(name, raising=False)
    settings = load(EXAMPLE)
    config = settings.config
    types = {p.type for p in config.providers.values()}
    assert types == {"browser7", "youcom", "lobstr", "srtgen", "decaptcha", "http_json", "deepl"}
    assert set(config.notifiers) == {"ops", "oncall", "hook"}
    assert config.notifiers["oncall"].min_severity == "critical"
    assert set(settings.providers) == set(config.providers)
    # ${SMTP_PASSWORD:-changeme} took its default; a set variable wins.
    assert "changeme" in config.notifiers["oncall"].urls[0].get_secret_value()
    monkeypatch.setenv("SMTP_PASSWORD", "from-env")
    assert "from-env" in load(EXAMPLE).config.notifiers["oncall"].urls[0].get_secret_value()


# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        ("90", timedelta(seconds=90)),  # an integer is whole seconds
        ("'120'", timedelta(seconds=120)),  # and so are digits in a string
        ("1s", timedelta(seconds=1)),  # the minimum
    ],
)
def test_durations(tmp_path: Path, written: str, expected: timedelta) -> None:
    settings = load_text(tmp_path, one_provider(f"type: youcom\napi_key: k\ninterval: {written}"))
    assert settings.config.providers["p"].interval == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("abc", "provider 'p': interval: 'abc' is not a duration such as 30s, 5m, 1h30m, 1d"),
        ("5 minutes", "provider 'p': interval: '5 minutes' is not a duration"),
        ("0", "provider 'p': interval: must be at least 1s"),
        ("0s", "provider 'p': interval: must be at least 1s"),
        ("-5", "provider 'p': interval: a duration cannot be negative"),
        ("true", "provider 'p': interval: expected a duration"),
    ],
)
def test_bad_durations(tmp_path: Path, written: str, expected: str) -> None:
    lines = problems_of(tmp_path, one_provider(f"type: youcom\napi_key: k\ninterval: {written}"))
    assert len(lines) == 1
    assert expected in lines[0]


def test_timeout_zero_is_refused(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, one_provider("type: youcom\napi_key: k\ntimeout: 0"))
    assert lines == [f"{tmp_path / 'config.yaml'}: provider 'p': timeout: must be more than 0s"]


# -- thresholds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("20", Threshold(Decimal(20))),
        ("0.1", Threshold(Decimal("0.1"))),  # exactly 0.1: money never goes through float
        ("'1500.50'", Threshold(Decimal("1500.50"))),
        ("20%", Threshold(Decimal(20), percent=True)),
        ("'12.5%'", Threshold(Decimal("12.5"), percent=True)),
    ],
)
def test_thresholds(tmp_path: Path, written: str, expected: Threshold) -> None:
    config = load_text(tmp_path, one_provider(f"type: lobstr\napi_key: k\nwarning: {written}"))
    assert config.config.providers["p"].warning == expected


@pytest.mark.parametrize("provider_type", ["browser7", "youcom", "decaptcha"])
@pytest.mark.parametrize("level", ["warning", "critical"])
def test_percent_threshold_refused_without_capacity(
    tmp_path: Path, provider_type: str, level: str
) -> None:
    body = f"type: {provider_type}\napi_key: k\nbase_url: http://127.0.0.1:9\n{level}: 20%"
    lines = problems_of(tmp_path, one_provider(body))
    assert lines == [
        f"{tmp_path / 'config.yaml'}: provider 'p': {level}: 20% is a percentage, but "
        f"{provider_type} reports no capacity to take it of; give an amount in the provider's unit"
    ]


def test_percent_threshold_allowed_where_capacity_is_reported(tmp_path: Path) -> None:
    text = """
    providers:
      lob: {type: lobstr, api_key: k, warning: 20%, critical: 5%}
      srt: {type: srtgen, api_key: k, warning: 20%}
      web:
        type: http_json
        base_url: http://127.0.0.1:9
        path: /b
        expression: balance
        capacity_expression: limit
        warning: 30%
    """
    providers = load_text(tmp_path, text).config.providers
    assert providers["lob"].critical == Threshold(Decimal(5), percent=True)
    assert providers["web"].warning == Threshold(Decimal(30), percent=True)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ("warning: 10\ncritical: 10", "provider 'p': critical (10) must be below warning (10)"),
        ("warning: 10\ncritical: 25", "provider 'p': critical (25) must be below warning (10)"),
        ("warning: 10%\ncritical: 30%", "critical (30%) must be below warning (10%)"),
        ("warning: abc", "provider 'p': warning: 'abc' is not a number"),
        ("warning: 150%", "provider 'p': warning: '150%' is not a percentage between 0% and 100%"),
        ("critical: .nan", "provider 'p': critical: 'nan' is not a finite number"),
    ],
)
def test_bad_thresholds(tmp_path: Path, levels: str, expected: str) -> None:
    lines = problems_of(tmp_path, one_provider(f"type: lobstr\napi_key: k\n{levels}"))
    assert len(lines) == 1, lines
    assert expected in lines[0]


# -- ${VAR} interpolation --------------------------------------------------------------------


def test_variables_are_interpolated_in_every_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("B7_KEY", "key-from-env")
    monkeypatch.setenv("B7_HOST", "127.0.0.1:8123")
    monkeypatch.delenv("B7_INTERVAL", raising=False)
    settings = load_text(
        tmp_path,
        one_provider(
            "type: browser7\n"
            "api_key: ${B7_KEY}\n"
            "base_url: http://${B7_HOST}/v\n"
            "interval: ${B7_INTERVAL:-90s}\n"
            "warning: ${B7_WARNING:-20}"
        ),
    )
    provider = settings.config.providers["p"]
    assert provider.api_key_value() == "key-from-env"
    assert provider.base_url == "http://127.0.0.1:8123/v"
    assert provider.interval == timedelta(seconds=90)
    assert provider.warning == Threshold(Decimal(20))


def test_default_is_used_only_when_the_variable_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = one_provider("type: youcom\napi_key: ${YC_KEY:-placeholder}")
    monkeypatch.delenv("YC_KEY", raising=False)
    assert load_text(tmp_path, text).config.providers["p"].api_key_value() == "placeholder"
    monkeypatch.setenv("YC_KEY", "real")
    assert load_text(tmp_path, text).config.providers["p"].api_key_value() == "real"


def test_double_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    text = one_provider("type: youcom\napi_key: 'pa$${NOT_A_VAR}'")
    assert load_text(tmp_path, text).config.providers["p"].api_key_value() == "pa${NOT_A_VAR}"


def test_unset_variable_is_an_error_naming_it_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOBSTR_TOKEN_UNSET", raising=False)
    lines = problems_of(tmp_path, one_provider("type: lobstr\napi_key: ${LOBSTR_TOKEN_UNSET}"))
    assert (
        f"{tmp_path / 'config.yaml'}: provider 'p': api_key: environment variable "
        "LOBSTR_TOKEN_UNSET is not set (and has no default)"
    ) in lines


# -- api_key_file ----------------------------------------------------------------------------


def test_api_key_file_is_read_and_stripped(tmp_path: Path) -> None:
    secret = tmp_path / "lobstr.key"
    secret.write_text("  key-from-file\n\n", encoding="utf-8")
    settings = load_text(tmp_path, one_provider(f"type: lobstr\napi_key_file: {secret}"))
    assert settings.config.providers["p"].api_key_value() == "key-from-file"
    assert "key-from-file" in settings.secrets()  # known to the log redactor too


def test_api_key_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    lines = problems_of(tmp_path, one_provider(f"type: lobstr\napi_key_file: {missing}"))
    assert lines == [
        f"{tmp_path / 'config.yaml'}: provider 'p': api_key_file: cannot read {missing}: "
        "No such file or directory"
    ]


def test_api_key_file_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.key"
    empty.write_text(" \n", encoding="utf-8")
    lines = problems_of(tmp_path, one_provider(f"type: lobstr\napi_key_file: {empty}"))
    assert lines == [f"{tmp_path / 'config.yaml'}: provider 'p': api_key_file: {empty} is empty"]


# -- environment overrides and defaults ------------------------------------------------------


def test_env_override_wins_over_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTD_PROVIDERS__MAIN_B7__API_KEY", "from-env")
    monkeypatch.setenv("ALERTD_PROVIDERS__MAIN_B7__WARNING", "50")
    text = "providers:\n  main_b7: {type: browser7, api_key: from-yaml, warning: 20}\n"
    provider = load_text(tmp_path, text).config.providers["main_b7"]
    assert provider.api_key_value() == "from-env"
    assert provider.warning == Threshold(Decimal(50))
    assert provider.type == "browser7"  # the rest of the YAML is kept


def test_env_override_that_is_not_json_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTD_NOTIFIERS", '{"ops": "json://u:SENTINEL-PW-77@x"')  # no brace
    lines = problems_of(tmp_path, one_provider("type: youcom\napi_key: k"))
    assert len(lines) == 1
    assert lines[0].startswith(f"{tmp_path / 'config.yaml'}: environment overrides")
    assert "notifiers" in lines[0]
    assert "SENTINEL-PW-77" not in lines[0]


def test_defaults_are_merged_into_providers_and_overridden_per_provider(tmp_path: Path) -> None:
    text = """
    defaults:
      interval: 10m
      warning: 20
      repeat_interval: 0
      notify: [ops]
    notifiers:
      ops: json://127.0.0.1:9/hook
      pager: json://127.0.0.1:9/pager
    providers:
      inherits: {type: browser7, api_key: k}
      overrides: {type: browser7, api_key: k, interval: 1m, warning: 50, notify: [pager]}
    """
    providers = load_text(tmp_path, text).config.providers
    inherits, overrides = providers["inherits"], providers["overrides"]
    assert inherits.interval == timedelta(minutes=10)
    assert inherits.warning == Threshold(Decimal(20))
    assert inherits.repeat_interval == timedelta(0)
    assert inherits.notify == ["ops"]
    assert overrides.interval == timedelta(minutes=1)
    assert overrides.warning == Threshold(Decimal(50))
    assert overrides.notify == ["pager"]
    assert overrides.repeat_interval == timedelta(0)  # still inherited


def test_builtin_defaults_apply_without_a_defaults_block(tmp_path: Path) -> None:
    provider = load_text(tmp_path, one_provider("type: youcom\napi_key: k")).config.providers["p"]
    assert provider.interval == timedelta(minutes=5)
    assert provider.timeout == timedelta(seconds=10)
    assert provider.failure_threshold == 3
    assert provider.repeat_interval == timedelta(hours=4)
    assert provider.notify_resolved is True


# -- one line per problem --------------------------------------------------------------------

NOTIFIER = "notifiers:\n  ops: json://127.0.0.1:9/hook\n"

ERROR_CASES = [
    pytest.param(
        one_provider("type: youcom\napi_key: k\nwarnign: 5"),
        "provider 'p': warnign: unknown key",
        id="typo-in-provider",
    ),
    pytest.param(
        "defaults:\n  intervall: 5m\n" + one_provider("type: youcom\napi_key: k"),
        "defaults: intervall: unknown key",
        id="typo-in-defaults",
    ),
    pytest.param(
        "provider:\n  p: {type: youcom, api_key: k}\n",
        "provider: unknown key",
        id="typo-at-top-level",
    ),
    pytest.param(
        "providers:\n  Prod: {type: youcom, api_key: k}\n",
        "provider 'Prod': names may only use lowercase letters, digits, '-' and '_'",
        id="uppercase-provider-name",
    ),
    pytest.param(
        "notifiers:\n  Ops: json://127.0.0.1:9/hook\n" + one_provider("type: youcom\napi_key: k"),
        "notifier 'Ops': names may only use lowercase letters, digits, '-' and '_'",
        id="uppercase-notifier-name",
    ),
    pytest.param(
        one_provider("type: openai\napi_key: k"),
        "provider 'p': type: 'openai' is not a provider type; known: browser7, youcom, lobstr, "
        "srtgen, decaptcha, http_json",
        id="unknown-type",
    ),
    pytest.param(
        one_provider("api_key: k"),
        "provider 'p': type: required key is missing",
        id="missing-type",
    ),
    pytest.param(
        one_provider("type: youcom\napi_key: k\nnotify: [ops, pager]", notifiers=NOTIFIER),
        "provider 'p': notify: unknown notifier 'pager'",
        id="notify-unknown-notifier",
    ),
    pytest.param(
        "notifiers:\n  ops: notaurl://host/x\n" + one_provider("type: youcom\napi_key: k"),
        "notifier 'ops': urls[0]: not a valid Apprise URL (scheme 'notaurl')",
        id="invalid-apprise-url",
    ),
    pytest.param(
        "notifiers:\n  ops: [json://127.0.0.1:9/a, 'no scheme']\n"
        + one_provider("type: youcom\napi_key: k"),
        "notifier 'ops': urls[1]: not a valid Apprise URL (scheme 'none')",
        id="invalid-second-url",
    ),
    pytest.param(
        "notifiers:\n  ops: {urls: [json://127.0.0.1:9/a], min_severity: info}\n"
        + one_provider("type: youcom\napi_key: k"),
        "notifier 'ops': min_severity: 'info' is not a valid min_severity; known: warning, "
        "critical",
        id="bad-min-severity",
    ),
    pytest.param(
        one_provider("type: decaptcha\napi_key: k"),
        "provider 'p': base_url: required for type decaptcha",
        id="decaptcha-without-base-url",
    ),
    pytest.param(
        one_provider("type: browser7\napi_key: k\nbase_url: api.browser7.com"),
        "provider 'p': base_url: must start with http:// or https://",
        id="base-url-without-scheme",
    ),
    pytest.param(
        one_provider("type: browser7"),
        "provider 'p': api_key: required (or api_key_file); it is missing or empty",
        id="missing-api-key",
    ),
    pytest.param(
        one_provider("type: browser7\napi_key: ''"),
        "provider 'p': api_key: required (or api_key_file); it is missing or empty",
        id="empty-api-key",
    ),
    pytest.param(
        one_provider("type: browser7\napi_key: k\nunit: EUR"),
        "provider 'p': unit: browser7 reports its own unit",
        id="unit-on-fixed-unit-provider",
    ),
    pytest.param(
        one_provider("type: http_json\nbase_url: http://127.0.0.1:9\nexpression: balance"),
        "provider 'p': path: required for type http_json",
        id="http-json-without-path",
    ),
    pytest.param(
        one_provider("type: http_json\nbase_url: http://127.0.0.1:9\npath: /b\nexpression: 'a[?'"),
        "provider 'p': expression: invalid JMESPath expression",
        id="http-json-bad-expression",
    ),
    pytest.param("providers: {}\n", "providers: no providers configured", id="no-providers"),
    pytest.param(
        "providers:\n  p: {type: browser7, api_key: 'abc\n",
        "YAML syntax error",
        id="yaml-syntax",
    ),
    pytest.param("- a\n- b\n", "the top level must be a mapping of keys", id="top-level-list"),
    pytest.param("just text\n", "the top level must be a mapping of keys", id="top-level-scalar"),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_problem_is_one_line_naming_file_owner_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    lines = problems_of(tmp_path, text)
    assert any(expected in line for line in lines), lines
    for line in lines:
        assert line.startswith(f"{path}: "), line


def test_yaml_syntax_error_gives_the_position(tmp_path: Path) -> None:
    text = "providers:\n  p:\n    type: youcom\n   api_key: k\n"
    lines = problems_of(tmp_path, text)
    assert len(lines) == 1
    assert lines[0].startswith(f"{tmp_path / 'config.yaml'}: line 4, column 4: YAML syntax error")


def test_config_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as caught:
        load(missing)
    assert caught.value.problems == [f"{missing}: config file not found"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """
    defaults:
      intervall: 5m
    notifiers:
      ops: json://127.0.0.1:9/hook
      broken: notaurl://x
    providers:
      b7: {type: browser7, api_key: k, warning: 20%}
      dc: {type: decaptcha, api_key: k, notify: [pager]}
      yc: {type: youcom, api_key: k, interval: abc}
      lob: {type: lobstr, api_key: k, warning: 10, critical: 10}
      Bad: {type: youcom, api_key: k}
      srt: {type: srtgen}
    """
    path = tmp_path / "config.yaml"
    lines = problems_of(tmp_path, text)
    expected = [
        "defaults: intervall: unknown key",
        "notifier 'broken': urls[0]: not a valid Apprise URL",
        "provider 'b7': warning: 20% is a percentage",
        "provider 'dc': base_url: required for type decaptcha",
        "provider 'dc': notify: unknown notifier 'pager'",
        "provider 'yc': interval: 'abc' is not a duration",
        "provider 'lob': critical (10) must be below warning (10)",
        "provider 'Bad': names may only use lowercase",
        "provider 'srt': api_key: required",
    ]
    for part in expected:
        assert sum(part in line for line in lines) == 1, (part, lines)
    assert len(lines) == len(expected), lines
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_a_problem_in_defaults_is_reported_once_not_per_provider(tmp_path: Path) -> None:
    text = """
    defaults:
      interval: abc
    providers:
      a: {type: youcom, api_key: k}
      b: {type: youcom, api_key: k}
    """
    lines = problems_of(tmp_path, text)
    assert lines == [
        f"{tmp_path / 'config.yaml'}: defaults: interval: 'abc' is not a duration such as "
        "30s, 5m, 1h30m, 1d or whole seconds"
    ]


# -- where the config is found ---------------------------------------------------------------


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    valid = "providers:\n  {name}: {{type: youcom, api_key: k}}\n"
    explicit = write_config(tmp_path, valid.format(name="explicit"), "explicit.yaml")
    from_env = write_config(tmp_path, valid.format(name="from_env"), "env.yaml")
    workdir = tmp_path / "work"
    workdir.mkdir()
    write_config(workdir, valid.format(name="local"))
    monkeypatch.chdir(workdir)

    monkeypatch.setenv("ALERTD_CONFIG", str(from_env))
    assert set(load(explicit).config.providers) == {"explicit"}  # -c first
    assert set(load(None).config.providers) == {"from_env"}  # then $ALERTD_CONFIG
    monkeypatch.delenv("ALERTD_CONFIG")
    settings = load(None)  # then ./config.yaml
    assert set(settings.config.providers) == {"local"}
    assert settings.path == Path("config.yaml")


def test_system_config_is_the_last_resort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # /etc/alertd/config.yaml stands in as a file under tmp_path: the machine's own is untouched
    system = tmp_path / "etc" / "alertd" / "config.yaml"
    monkeypatch.setattr(loader, "DEFAULT_PATHS", (Path("config.yaml"), system))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    with pytest.raises(ConfigError) as caught:
        find_config(None, {})
    assert caught.value.problems == [
        f"no config file: give -c PATH or set ALERTD_CONFIG (looked for config.yaml, {system})"
    ]
    system.parent.mkdir(parents=True)
    system.write_text("providers:\n  p: {type: youcom, api_key: k}\n", encoding="utf-8")
    assert find_config(None, {}) == system
    write_config(workdir, "providers: {}\n")
    assert find_config(None, {}) == Path("config.yaml")  # ./config.yaml comes first


# -- secrets never shown ---------------------------------------------------------------------

KEY = "SENTINEL-9f2c-SECRET"
PASSWORD = "SENTINEL-PW-77"
SENTINELS = ("SENTINEL-9f2c", "SENTINEL-PW")

SECRET_CONFIG_BROKEN = f"""
defaults:
  intervall: 5m
notifiers:
  mail: "mailto://alertd:{PASSWORD}@smtp.example.com?to=ops@example.com"
  bad_mail: "mailtoo://alertd:{PASSWORD}@smtp.example.com"
  bad_slack: "slack://T1/B2/{PASSWORD}"
  bare: "{PASSWORD}"
providers:
  b7: {{type: browser7, api_key: {KEY}, warning: 20%, bogus: 1}}
  yc: {{type: youcom, api_key: {KEY}, critical: 10, warning: 5}}
  lob: {{type: lobstr, api_key: {KEY}, notify: [nope]}}
  dc: {{type: decaptcha, api_key: {KEY}}}
  srt: {{type: srtgen, api_key: [{KEY}]}}
  hj:
    type: http_json
    base_url: http://127.0.0.1:9
    path: /b
    expression: "a[?"
    headers: {{Authorization: "Bearer {KEY}", X-Other: [{KEY}]}}
"""

SECRET_CONFIG_VALID = f"""
notifiers:
  mail: "mailto://alertd:{PASSWORD}@smtp.example.com?to=ops@example.com"
  hook: "json://alertd:{PASSWORD}@127.0.0.1:9/hook"
providers:
  b7: {{type: browser7, api_key: {KEY}, warning: 20, critical: 5}}
  hj:
    type: http_json
    base_url: http://127.0.0.1:9
    path: /b
    expression: balance
    headers: {{Authorization: "Bearer {KEY}"}}
"""


def assert_no_sentinel(text: str) -> None:
    for sentinel in SENTINELS:
        assert sentinel not in text, text
        assert sentinel.lower() not in text.lower(), text


def test_config_errors_never_quote_a_secret(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, SECRET_CONFIG_BROKEN)
    assert len(lines) >= 8  # it did find the problems...
    assert_no_sentinel("\n".join(lines))  # ...without quoting the secrets next to them


def test_validate_never_prints_a_secret(tmp_path: Path) -> None:
    broken = write_config(tmp_path, SECRET_CONFIG_BROKEN, "broken.yaml")
    valid = write_config(tmp_path, SECRET_CONFIG_VALID, "valid.yaml")
    for args in (
        ("validate", "-c", str(broken)),
        ("--log-level", "debug", "--log-format", "console", "validate", "-c", str(broken)),
        ("--log-level", "debug", "validate", "-c", str(valid)),
        ("--log-level", "debug", "--log-format", "console", "validate", "-c", str(valid)),
    ):
        result = run_alertd(*args, cwd=tmp_path)
        assert result.code == (1 if str(broken) in args else 0), result
        assert "Traceback" not in result.output
        assert_no_sentinel(result.output)
    # the valid run did describe the notifiers: scheme, host and fingerprint, no user either
    result = run_alertd("validate", "-c", str(valid), cwd=tmp_path)
    assert re.search(r"notifier mail: mailto://smtp\.example\.com \[[0-9a-f]{8}\]", result.stdout)


def test_secrets_known_to_the_redactor(tmp_path: Path) -> None:
    settings = load_text(tmp_path, SECRET_CONFIG_VALID)
    secrets = settings.secrets()
    assert KEY in secrets
    assert f"Bearer {KEY}" in secrets  # http_json headers are secrets too
    assert any(PASSWORD in s for s in secrets)  # the notifier URLs


# -- hostile files and a new user's mistakes (issue 8) ------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("warning: 1_000", "warning: '1_000' is not a number"),
        ("interval: 1:30", "interval: '1:30' is not a duration"),  # YAML 1.1 read 90 s
        ('warning: "１２３"', "warning: '１２３' is not a number"),
        ('repeat_interval: "٣h"', "repeat_interval: '٣h' is not a duration"),
        ("storage_warning: 9_0%", "storage_warning: '9_0' is not a number"),
        ("failure_threshold: 2.5", "failure_threshold: expected a whole number"),
        ("warning: 1e400", "warning: 'inf' is not a finite number"),
        ("repeat_interval: 99999d", "repeat_interval: '99999d' is longer than 3650 days"),
    ],
)
def test_numbers_are_ascii_digits_as_written(tmp_path: Path, line: str, expected: str) -> None:
    [problem] = problems_of(tmp_path, one_provider(f"type: srtgen\napi_key: k\n{line}"))
    assert problem.startswith(f"{tmp_path / 'config.yaml'}: provider 'p': {expected}"), problem


def test_leading_zero_is_decimal_not_octal(tmp_path: Path) -> None:
    settings = load_text(tmp_path, one_provider("type: browser7\napi_key: k\nwarning: 017"))
    assert settings.config.providers["p"].warning == Threshold(Decimal(17))


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("1.2.3.4.5:80", "'1.2.3.4.5' is not an IP address or host name"),
        ("localhost:99999", "port 99999 is not between 1 and 65535"),
        ("::1:80", "write an IPv6 address as [::1]:PORT"),
        ("９４６４", "is not host:port"),
    ],
)
def test_listen_is_validated_at_load(tmp_path: Path, listen: str, expected: str) -> None:
    text = one_provider("type: browser7\napi_key: k") + f"http:\n  listen: '{listen}'\n"
    [line] = problems_of(tmp_path, text)
    assert line.startswith(f"{tmp_path / 'config.yaml'}: http: listen: ")
    assert expected in line


@pytest.mark.parametrize("listen", ["9464", ":9464", "127.0.0.1:9464", "[::1]:9464", "db-1:80"])
def test_listen_forms_that_load(tmp_path: Path, listen: str) -> None:
    text = one_provider("type: browser7\napi_key: k") + f"http:\n  listen: '{listen}'\n"
    assert load_text(tmp_path, text).config.http.listen == listen


def test_config_does_not_import_the_listener() -> None:
    import alertd.config.model as config_module

    source = Path(config_module.__file__).read_text(encoding="utf-8")
    assert "alertd.web" not in source


def test_http_json_header_value_with_a_line_break_is_refused(tmp_path: Path) -> None:
    body = (
        "type: http_json\nbase_url: http://127.0.0.1:9\npath: /b\nexpression: a\n"
        'headers: {"X-Key": "ab\\ncd", "Bad Name": "v"}'
    )
    lines = problems_of(tmp_path, one_provider(body))
    assert sorted(line.split("provider 'p': ")[1] for line in lines) == [
        "headers.Bad Name: not a valid HTTP header name",
        "headers.X-Key: the value contains a line break (a trailing newline from a file or"
        " variable?)",
    ]


def test_warnings_for_a_config_that_alerts_nobody(tmp_path: Path) -> None:
    text = one_provider(
        "type: browser7\napi_key: k\nnotify: []\nwarning: 5",
        notifiers="notifiers:\n  ops: json://127.0.0.1:9/x\n",
    )
    assert load_text(tmp_path, text).warnings == (
        f"{tmp_path / 'config.yaml'}: warning: provider 'p': notify is an empty list: its"
        " alerts go to no notifier",
    )
