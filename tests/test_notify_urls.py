"""Checking notifier URLs never lets Apprise quote a token in the log, and silences nothing
else: a notifier failing in another thread meanwhile is still logged."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from alertd.notify.urls import invalid_urls

SENTINEL = "SENTINELslackTOKEN0000"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def apprise_log() -> Iterator[Records]:
    logger = logging.getLogger("apprise")
    records, level = Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)


def test_a_refused_url_is_reported_by_scheme_and_its_token_never_logged(
    apprise_log: Records,
) -> None:
    # Apprise refuses a token with a "!" in it, and says so quoting the token
    bad = f"slack://T1JJ3T3L2/A1BRTD4JD/{SENTINEL}!/#alerts"
    assert invalid_urls([SecretStr(bad)]) == [(0, "slack")]
    assert not any(SENTINEL in message for message in apprise_log.messages)


def test_other_threads_are_still_heard_while_urls_are_checked(
    apprise_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Apprise:
        """Refuses every URL, quoting it; meanwhile a notifier's lane thread logs a failure."""

        def add(self, url: str) -> bool:
            lane = threading.Thread(
                target=logging.getLogger("apprise").warning, args=("lane failure",)
            )
            lane.start()
            lane.join()
            logging.getLogger("apprise").warning("invalid token %s", url)
            return False

    monkeypatch.setattr("alertd.notify.urls.apprise.Apprise", Apprise)
    assert invalid_urls([SecretStr(f"slack://{SENTINEL}/x/#c")]) == [(0, "slack")]
    assert apprise_log.messages == ["lane failure"]
    logging.getLogger("apprise").warning("after the check")
    assert apprise_log.messages[-1] == "after the check"
