"""The exception tree, kept apart from the code that raises it.

    AlertdError
    ├── ConfigError            the config file or environment is wrong (one line per problem)
    └── ProviderError          one poll of one provider failed; never fatal
        ├── AuthError          401/403: retrying will not help, alerted at once
        ├── RateLimitedError   429: try again after `retry_after` seconds
        ├── UnavailableError   5xx, timeout, connection refused: transient
        └── ResponseError      the body is not what the provider documents

Messages never carry a secret: they are built from status codes, field paths and
our own words, never from request headers or URLs with credentials.
"""

from __future__ import annotations

from alertd.core.model import Failure


class AlertdError(Exception):
    """Base of every error alertd raises on purpose."""


class ConfigError(AlertdError):
    """One or more configuration problems, each a self-contained line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ProviderError(AlertdError):
    """A poll that produced no reading; `reason` is shown to users as is."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def failure(self) -> Failure:
        """The core's plain value for this error."""
        return Failure(self.reason)


class AuthError(ProviderError):
    """The provider rejected our credentials (HTTP 401/403)."""

    def failure(self) -> Failure:
        return Failure(self.reason, auth=True)


class RateLimitedError(ProviderError):
    """HTTP 429; `retry_after` is the provider's Retry-After in seconds, if it gave one."""

    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after

    def failure(self) -> Failure:
        return Failure(self.reason, retry_after=self.retry_after)


class UnavailableError(ProviderError):
    """The provider could not be reached or answered 5xx; likely transient."""


class ResponseError(ProviderError):
    """The provider answered, but not in its documented shape."""
