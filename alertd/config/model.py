"""The configuration model (SPEC §2): pydantic models with `extra="forbid"`, env overrides.

Loading (file discovery, YAML, interpolation, error reporting, cross-checks) lives in
`alertd.config.loader`; this module only says what a valid config looks like.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from alertd.config.types import (
    Count,
    Duration,
    Factor,
    Fraction,
    Jitter,
    ThresholdValue,
    format_duration,
    parse_decimal,
    parse_listen,
)
from alertd.core.model import Severity
from alertd.core.rules import Threshold
from alertd.store.url import EXAMPLE as STORE_EXAMPLE
from alertd.store.url import parse_store_url
from alertd.text import printable

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


def _known_type(value: str) -> str:
    """A type of the provider registry (code types and presets): a new type is a file and a
    registry line, or a preset file, and the config accepts it with no change here."""
    from alertd.providers import PRESETS, REGISTRY  # they import this module: looked up here

    if value not in REGISTRY:
        shown = printable(value, 60)
        code = ", ".join(name for name in REGISTRY if name not in PRESETS)
        raise ValueError(
            f"'{shown}' is not a provider type; known: {code}; presets: {', '.join(PRESETS)}"
        )
    return value


ProviderTypeName = Annotated[str, AfterValidator(_known_type)]


def _at_least_one_second(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise ValueError("must be at least 1s")
    return value


Interval = Annotated[Duration, AfterValidator(_at_least_one_second)]  # between two polls


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Policy(_Strict):
    """Keys valid in `defaults:` and in each provider (the provider's value wins)."""

    interval: Interval = timedelta(minutes=5)
    jitter: Jitter = Threshold(Decimal(10), percent=True)
    timeout: Duration = timedelta(seconds=10)
    failure_threshold: Annotated[Count, Field(ge=1)] = 3
    repeat_interval: Duration = timedelta(hours=4)
    notify_resolved: bool = True
    notify: list[Name] | None = None
    recovery_margin: ThresholdValue = Threshold(Decimal(0))
    storage_warning: Fraction = Decimal("0.9")
    warning: ThresholdValue | None = None
    critical: ThresholdValue | None = None
    # SPEC §6: the forecast
    runway_warning: Duration | None = None
    runway_critical: Duration | None = None
    burn_window: Duration = timedelta(days=7)
    spend_spike: Factor | None = None
    history_retention: Duration = timedelta(days=90)  # raw readings; hourly summaries after

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be more than 0s")
        return value

    @field_validator("history_retention")
    @classmethod
    def _retention_of_hours(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError("must be at least 1h (older readings are kept as hourly summaries)")
        return value

    @field_validator("burn_window")
    @classmethod
    def _window_of_hours(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=7):
            raise ValueError("must be at least 7s (its last seventh is the short window)")
        return value

    @model_validator(mode="after")
    def _runway_critical_below_warning(self) -> Policy:
        warning, critical = self.runway_warning, self.runway_critical
        if warning is not None and critical is not None and critical >= warning:
            raise ValueError(
                f"runway_critical ({format_duration(critical)}) must be shorter than"
                f" runway_warning ({format_duration(warning)})"
            )
        return self

    @model_validator(mode="after")
    def _critical_below_warning(self) -> Policy:
        warning, critical = self.warning, self.critical
        if (
            warning is not None
            and critical is not None
            and warning.percent == critical.percent
            and critical.value >= warning.value
        ):
            raise ValueError(f"critical ({critical}) must be below warning ({warning})")
        return self


_HEADER_TOKEN = frozenset("!#$%&'*+-.^_`|~")


def header_name_problem(name: str) -> str | None:
    """An HTTP header name is a token (RFC 9110): ASCII letters, digits and a few marks."""
    if not name or not all(ch.isascii() and (ch.isalnum() or ch in _HEADER_TOKEN) for ch in name):
        return "not a valid HTTP header name"
    return None


class KeyPlacement(_Strict):
    """Where `api_key` goes in an http_json request: exactly one of a header (after an
    optional `prefix` such as "Bearer "), a query parameter, a field of the JSON body, or
    HTTP Basic auth (`auth: basic`: `user` and `password`, or `api_key: USER:PASSWORD`)."""

    header: str | None = None
    prefix: str = ""
    query: str | None = None
    body: str | None = None
    basic: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"basic": True} if value == "basic" else value

    @model_validator(mode="after")
    def _exactly_one(self) -> KeyPlacement:
        chosen = [name for name in ("header", "query", "body") if getattr(self, name)]
        if len(chosen) + self.basic != 1:
            raise ValueError("give exactly one of header, query, body or basic")
        if self.prefix and not self.header:
            raise ValueError("prefix goes with header only")
        if not all(" " <= ch <= "~" for ch in self.prefix):
            raise ValueError("prefix: printable ASCII only (it starts an HTTP header value)")
        problem = header_name_problem(self.header) if self.header else None
        if problem:
            raise ValueError(f"header: {problem}")
        return self

    def describe(self) -> str:
        """Where the key travels, for `alertd providers` (never the key itself)."""
        if self.header:
            return f"header {self.header}: {self.prefix}KEY"
        if self.query:
            return f"query ?{self.query}=KEY"
        if self.body:
            return f'JSON body {{"{self.body}": KEY}}'
        return "HTTP Basic USER:PASSWORD"


def _json_body(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(
                "must be JSON: strings, numbers, booleans, lists and mappings"
            ) from None
    return value


class Endpoint(_Strict):
    """Where an account's balance is asked for and how it is read: every key of http_json,
    and all a preset file may set (base_url and unit apply to every type)."""

    base_url: str | None = None
    unit: str | None = None
    path: str | None = None
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    body: Annotated[dict[str, Any] | None, AfterValidator(_json_body)] = None
    auth: KeyPlacement | None = None
    expression: str | None = None
    used_expression: str | None = None
    capacity_expression: str | None = None
    reset_expression: str | None = None
    unit_expression: str | None = None
    error_expression: str | None = None
    auth_error_expression: str | None = None
    scale: Annotated[Decimal, Field(gt=0)] = Decimal(1)

    @field_validator("scale", mode="before")
    @classmethod
    def _scale_number(cls, value: Any) -> Decimal:
        return parse_decimal(value)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            raise ValueError("has a space or control character in it")
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:  # out of range, or not a number
            port = -1
        if port is not None and not 0 <= port < 65536:
            written = parts.netloc.rpartition(":")[2]
            shown = f" {written}" if written.isdigit() and len(written) < 12 else ""
            raise ValueError(f"port{shown} is not between 1 and 65535")
        if not parts.hostname:
            raise ValueError("has no host name")
        return value.rstrip("/")


class ProviderConfig(Policy, Endpoint):
    """One watched account. Type-specific rules are checked by `alertd.config.loader`."""

    type: ProviderTypeName
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    user: SecretStr | None = None  # HTTP Basic (http_json `auth: basic`)
    password: SecretStr | None = None

    def api_key_value(self) -> str:
        return self.api_key.get_secret_value() if self.api_key else ""


class NotifierConfig(_Strict):
    """Apprise URLs behind one name; `min_severity` filters what this notifier receives."""

    urls: list[SecretStr] = Field(min_length=1)
    min_severity: Literal["warning", "critical"] = "warning"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"urls": [value]}
        if isinstance(value, list):
            return {"urls": value}
        return value

    @property
    def severity_floor(self) -> Severity:
        return Severity.parse(self.min_severity)


def _credential(value: SecretStr) -> SecretStr:
    """A password or token someone types into a header: printable, no spaces, not empty."""
    text = value.get_secret_value()
    if not text:
        raise ValueError("is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("has a space, a line break or a control character in it")
    return value


Credential = Annotated[SecretStr, AfterValidator(_credential)]


def _username(value: str) -> str:
    if not value or ":" in value or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("must be a word without ':', spaces or control characters")
    return value


class BasicAuth(_Strict):
    """HTTP Basic credentials for the listener (browsers ask for them on the status page)."""

    username: Annotated[str, AfterValidator(_username)]
    password: Credential


class HttpConfig(_Strict):
    """The optional listener (health, metrics, status page, API); off unless `listen` is set.
    With `auth_token` or `basic_auth`, everything but /healthz and /livez needs one of them."""

    listen: str | None = None
    auth_token: Credential | None = None
    basic_auth: BasicAuth | None = None
    refresh: Duration = timedelta(seconds=30)  # how often the status page reloads itself

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("refresh")
    @classmethod
    def _refresh_range(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(days=1):
            raise ValueError("must be between 1s and 1d")
        return value


class HaConfig(_Strict):
    """High availability (SPEC §7), for replicas sharing a `postgresql://` store: the lease
    term, how often the leader renews it (a standby tries as often), how long a claimed
    notification may stay unsent before another replica sends it, and this replica's name
    (shown in the lease, in logs and in PostgreSQL's `application_name`)."""

    lease: Duration = timedelta(seconds=15)
    renew: Duration = timedelta(seconds=5)
    claim_timeout: Duration = timedelta(seconds=60)
    node: Name | None = None

    @model_validator(mode="after")
    def _renewed_in_time(self) -> HaConfig:
        if self.lease < timedelta(seconds=1):
            raise ValueError(f"lease ({self.lease.total_seconds():g}s) must be at least 1s")
        if self.renew * 2 > self.lease:
            raise ValueError(
                f"renew ({self.renew.total_seconds():g}s) must be at most half of lease"
                f" ({self.lease.total_seconds():g}s): a leader needs two tries before it expires"
            )
        return self


class _Layered(BaseSettings):
    """YAML (passed as init kwargs) under environment overrides, defaults merged in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: the environment overrides the YAML passed as init kwargs.
        return (env_settings, init_settings)

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        """Each provider starts from `defaults` and overrides what it sets itself."""
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        providers = data.get("providers")
        if not isinstance(defaults, dict) or not isinstance(providers, dict):
            return data
        inherited = {key: value for key, value in defaults.items() if key in Policy.model_fields}
        merged = {
            name: {**inherited, **body} if isinstance(body, dict) else body
            for name, body in providers.items()
        }
        return {**data, "providers": merged}


class AlertdConfig(_Layered):
    """The whole file. Environment variables `ALERTD_A__B__C` override YAML keys."""

    model_config = SettingsConfigDict(
        env_prefix="ALERTD_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    defaults: Policy = Policy()
    notifiers: dict[Name, NotifierConfig] = Field(default_factory=dict)
    providers: dict[Name, ProviderConfig] = Field(default_factory=dict)
    store: SecretStr | None = None  # may hold a database password
    http: HttpConfig = HttpConfig()
    ha: HaConfig = HaConfig()
    state_file: Any = Field(default=None, exclude=True)  # gone: refused with a pointer

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_store_url(value.get_secret_value())  # its messages never show a password
        return value

    @model_validator(mode="before")
    @classmethod
    def _state_file_written(cls, data: Any) -> Any:
        """`state_file:` with no value is still the old key: refused like the others."""
        if isinstance(data, dict) and "state_file" in data and data["state_file"] is None:
            return {**data, "state_file": ""}
        return data

    @field_validator("state_file")
    @classmethod
    def _state_file_replaced(cls, value: Any) -> Any:
        if value is None:  # not written (settings validate their defaults too)
            return None
        raise ValueError(
            f"replaced by store: (e.g. store: {STORE_EXAMPLE}); history and alert state now"
            " live there"
        )

    def store_url(self) -> str | None:
        return self.store.get_secret_value() if self.store is not None else None


class RawLayers(_Layered):
    """The YAML with environment overrides merged in but nothing else checked.

    Used only to keep reporting problems of valid providers when another one is invalid.
    """

    model_config = SettingsConfigDict(
        env_prefix="ALERTD_", env_nested_delimiter="__", extra="allow"
    )

    defaults: dict[str, Any] = Field(default_factory=dict)
    notifiers: dict[str, Any] = Field(default_factory=dict)
    providers: dict[str, Any] = Field(default_factory=dict)
