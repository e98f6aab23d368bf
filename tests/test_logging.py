"""Logs never carry a secret, whoever logged it; chatty libraries are kept quiet.

First the Redactor on its own, then the whole configured pipeline (structlog events and
stdlib records from httpx/Apprise alike), read back from stderr as a user's log would be.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from alertd.observability.logging import REDACTOR, configure, get_logger
from alertd.observability.redact import MASK, Redactor, url_pieces

SECRET = "SENTINEL-9f2c-SECRET"
PASSWORD = "SENTINEL-PW-77"
LIBRARIES = ("apscheduler", "httpx", "apprise", "urllib3", "requests")
# Only ever held in a local variable; built at runtime so no source line shows it either.
LOCAL_ONLY = "-".join(["LOCALS", "ONLY", "SECRET"])


# -- the Redactor ----------------------------------------------------------------------------


def test_known_secret_is_replaced_wherever_it_appears() -> None:
    redactor = Redactor([SECRET])
    assert redactor.text(f"GET /balance?key={SECRET}&again={SECRET}") == (
        f"GET /balance?key={MASK}&again={MASK}"
    )
    assert redactor.text("nothing secret here") == "nothing secret here"


def test_longest_secret_is_masked_first() -> None:
    url = f"json://hooks.example.com/alertd?token={SECRET}"
    redactor = Redactor([SECRET, url])
    assert redactor.text(f"sending to {url}") == f"sending to {MASK}"


def test_very_short_values_are_not_treated_as_secrets() -> None:
    # a 3-character "key" would otherwise mask every "abc" in every log line
    assert Redactor(["abc"]).text("abc def") == "abc def"


def test_update_swaps_the_known_secrets() -> None:
    redactor = Redactor(["first-secret"])
    redactor.update(["second-secret"])
    assert redactor.text("second-secret") == MASK


@pytest.mark.parametrize(
    ("url", "pieces"),
    [
        pytest.param(
            "json://hooks.example.com/alertd/hooks/Tk9xQ2hv?+X-Token=h3ad3rV4l&-apikey=Q7uEry99",
            {"Tk9xQ2hv", "h3ad3rV4l", "Q7uEry99"},
            id="path, header and query tokens; host and plain words kept",
        ),
        pytest.param(
            "mailto://alertd:pw12@smtp.example.com:587?from=a@example.com&to=ops@example.com"
            "&mode=insecure",
            {"pw12"},
            id="password; user name, e-mail addresses and mode kept",
        ),
        pytest.param(
            "slack://T0AAA1111/B0BBB2222/XXXXxxxx3333/#ops-alerts",
            {"T0AAA1111", "B0BBB2222", "XXXXxxxx3333"},
            id="a host that is a token",
        ),
        pytest.param(
            "tgram://123456789:ABCdefGHI/12345", {"123456789", "ABCdefGHI"}, id="telegram bot"
        ),
        pytest.param(
            "pagerduty://INTKEY1234@APIKEY5678", {"INTKEY1234", "APIKEY5678"}, id="user is a key"
        ),
        pytest.param(
            "json://h.example.com/a%2Bb%3DTOKEN9", {"a%2Bb%3DTOKEN9", "a+b=TOKEN9"}, id="encoded"
        ),
        pytest.param("json://127.0.0.1:8099/alertd/webhooks", set(), id="nothing secret"),
        pytest.param("not a url", set(), id="not a URL"),
    ],
)
def test_url_pieces(url: str, pieces: set[str]) -> None:
    assert url_pieces(url) == pieces


def test_pieces_of_a_secret_url_are_masked_where_a_library_logs_them() -> None:
    """urllib3 logs the request line, Apprise the host: neither is the configured URL."""
    url = "json://u:Pw0rd-99@127.0.0.1:8099/hooks/Tk9xQ2hv?-apikey=Q7uEry99&+X-Token=h3ad3rV4l"
    redactor = Redactor([url])
    line = '"POST /hooks/Tk9xQ2hv?apikey=Q7uEry99 HTTP/1.1" 200; X-Token: h3ad3rV4l; Pw0rd-99'
    assert (
        redactor.text(line)
        == f'"POST /hooks/{MASK}?apikey={MASK} HTTP/1.1" 200; X-Token: {MASK}; {MASK}'
    )
    assert redactor.text("sent to 127.0.0.1 as json") == "sent to 127.0.0.1 as json"


@pytest.mark.parametrize(
    "key", ["api_key", "apiKey", "X-API-Key", "token", "access_token", "password", "Authorization"]
)
def test_secret_named_keys_are_masked(key: str) -> None:
    event = Redactor()(None, "info", {"event": "request", key: "whatever-value", "status": 200})
    assert event == {"event": "request", key: MASK, "status": 200}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"mailto://alertd:{PASSWORD}@smtp.example.com?to=ops@example.com",
            f"mailto://{MASK}@smtp.example.com?to=ops@example.com",
        ),
        (
            f"delivery to json://u:{PASSWORD}@127.0.0.1:8099/hook failed",
            f"delivery to json://{MASK}@127.0.0.1:8099/hook failed",
        ),
        ("https://api.lobstr.io/v1/user/balance", "https://api.lobstr.io/v1/user/balance"),
        ("https://user@example.com/x", "https://user@example.com/x"),  # no password: kept
    ],
)
def test_url_credentials_are_masked(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_nested_values_are_redacted() -> None:
    event = {
        "event": "poll",
        "response": {
            "headers": [("x-request-id", "r1"), ("echo", f"key {SECRET}")],
            "auth": {"Authorization": "Bearer abc123", "scheme": "Bearer"},
            "urls": [f"mailto://u:{PASSWORD}@h", "https://ok.example.com"],
        },
        "error": RuntimeError(f"upstream said {SECRET}"),
        "count": 3,
    }
    out = Redactor([SECRET])(None, "info", event)
    assert out == {
        "event": "poll",
        "response": {
            "headers": [("x-request-id", "r1"), ("echo", f"key {MASK}")],
            "auth": {"Authorization": MASK, "scheme": "Bearer"},
            "urls": [f"mailto://{MASK}@h", "https://ok.example.com"],
        },
        "error": f"upstream said {MASK}",
        "count": 3,
    }
    assert isinstance(out["response"]["headers"][0], tuple)


# -- the configured pipeline -----------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure() changes process-wide state: put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in (*LIBRARIES, "httpcore")}
    saved = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lib_level in levels.items():
        logging.getLogger(name).setLevel(lib_level)
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()
    REDACTOR.update([])


def _locals_hold_a_key(api_key: str) -> None:
    raise ValueError("upstream refused the request")


def log_everything() -> None:
    """What the daemon might log on a bad day, with secrets in every possible place."""
    log = get_logger(provider="b7")
    log.info("poll", detail=f"GET https://api.example.com/balance?key={SECRET}")
    log.info("poll_positional %s", f"key={SECRET}")
    log.warning("auth", api_key="UNREGISTERED-KEY-VALUE", headers={"x-api-key": "ALSO-UNKNOWN"})
    log.info("notify", url=f"mailto://alertd:{PASSWORD}@smtp.example.com")
    structlog.contextvars.bind_contextvars(token="CONTEXT-TOKEN-VALUE")
    log.info("with_context")
    structlog.contextvars.clear_contextvars()
    try:
        raise RuntimeError(f"provider echoed {SECRET} back")
    except RuntimeError:
        log.exception("poll_crashed")
    try:
        _locals_hold_a_key(LOCAL_ONLY)
    except ValueError:
        log.exception("poll_failed")
    logging.getLogger("httpx").warning("HTTP Request: GET %s", f"https://h/balance?key={SECRET}")
    logging.getLogger("apprise").error(f"Could not load mailto://alertd:{PASSWORD}@smtp.host")
    logging.getLogger("alertd.store").error("cannot write %s", f"/tmp/{SECRET}")


LEAKS = (
    "SENTINEL",
    "UNREGISTERED-KEY-VALUE",
    "ALSO-UNKNOWN",
    "CONTEXT-TOKEN-VALUE",
    LOCAL_ONLY,
)


def test_json_logs_never_carry_a_secret(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("json", "debug")
    REDACTOR.update([SECRET])  # as `alertd` does with Settings.secrets() after loading
    log_everything()
    err = capsys.readouterr().err
    for leak in LEAKS:
        assert leak not in err, leak

    events = [json.loads(line) for line in err.splitlines()]
    by_event = {e["event"]: e for e in events}
    assert by_event["poll"]["detail"] == f"GET https://api.example.com/balance?key={MASK}"
    assert by_event["poll"]["provider"] == "b7"
    assert f"poll_positional key={MASK}" in by_event
    assert by_event["auth"]["api_key"] == MASK
    assert by_event["auth"]["headers"] == {"x-api-key": MASK}
    assert by_event["notify"]["url"] == f"mailto://{MASK}@smtp.example.com"
    assert by_event["with_context"]["token"] == MASK

    crashed = by_event["poll_crashed"]
    assert crashed["level"] == "error"
    assert crashed["exception"][0]["exc_type"] == "RuntimeError"
    assert crashed["exception"][0]["exc_value"] == f"provider echoed {MASK} back"
    failed = by_event["poll_failed"]["exception"][0]
    assert failed["exc_value"] == "upstream refused the request"
    assert all("locals" not in frame for frame in failed["frames"])

    assert by_event[f"HTTP Request: GET https://h/balance?key={MASK}"]["logger"] == "httpx"
    assert f"Could not load mailto://{MASK}@smtp.host" in by_event
    assert by_event[f"cannot write /tmp/{MASK}"]["level"] == "error"


def test_console_logs_never_carry_a_secret(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("console", "debug")
    REDACTOR.update([SECRET])
    log_everything()
    err = capsys.readouterr().err
    for leak in LEAKS:
        assert leak not in err, leak
    assert "poll_crashed" in err
    assert f"provider echoed {MASK} back" in err  # the traceback is there, redacted
    assert "HTTP Request: GET" in err


def test_chatty_libraries_stay_at_warning_even_in_debug_mode(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("json", "debug")
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    for name in LIBRARIES:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    # A child logger (apprise.plugins..., apscheduler.scheduler) inherits the floor.
    assert logging.getLogger("apscheduler.scheduler").getEffectiveLevel() >= logging.WARNING

    logging.getLogger("httpx").info("HTTP Request: GET https://full.url/with?key=1")
    logging.getLogger("apscheduler.executors.default").info('Running job "poll"')
    logging.getLogger("apprise").debug("Loaded URL mailto://u:p@h")
    logging.getLogger("urllib3.connectionpool").debug('"POST /hooks/TOKEN?apikey=K HTTP/1.1" 200')
    get_logger().debug("alertd_debug_event")
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["alertd_debug_event"]


def test_library_floor_follows_a_stricter_root_level(restore_logging: None) -> None:
    configure("json", "error")
    for name in LIBRARIES:
        assert logging.getLogger(name).getEffectiveLevel() == logging.ERROR, name


def test_configure_is_idempotent(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure("json", "info")
    configure("json", "info")
    get_logger().info("once")
    assert len(capsys.readouterr().err.splitlines()) == 1
