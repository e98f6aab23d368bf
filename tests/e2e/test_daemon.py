"""`alertd run` as a user runs it: a subprocess polling the five simulated provider APIs every
second, alerting through a real json:// webhook and a real SMTP server.

Tests wait for conditions (messages arrived, N more "poll" events in the daemon's JSON log),
never for fixed times; "exactly once" is checked again after several further polls.
"""

from __future__ import annotations

import json
import signal
from decimal import Decimal
from typing import Any

import pytest
from support.daemon import DaemonProcess, SimulatorThread, wait_until
from support.http_stub import HttpStub
from support.smtp import SmtpReceiver

from alertd.demo.simulator import TYPES
from e2e.fleet import CREDIT_TYPES, SENTINEL, SMTP_PASSWORD, USD_TYPES, RunDaemon, api_key

pytestmark = [
    pytest.mark.e2e,
    # aiosmtpd 1.4 warns about its own use of a deprecated attribute on every AUTH.
    pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning"),
]

# Balances per step, in each provider's unit (thresholds: USD 10/2, credits 2000/500).
WARNING_BALANCE = {
    **dict.fromkeys(USD_TYPES, Decimal(4)),
    **dict.fromkeys(CREDIT_TYPES, Decimal(1500)),
}
CRITICAL_BALANCE = {
    **dict.fromkeys(USD_TYPES, Decimal("1.5")),
    **dict.fromkeys(CREDIT_TYPES, Decimal(300)),
}
TOPPED_UP = {**dict.fromkeys(USD_TYPES, Decimal(50)), **dict.fromkeys(CREDIT_TYPES, Decimal(9000))}
DELIVERY_TIMEOUT = 10.0


def set_balances(sim: SimulatorThread, balances: dict[str, Any]) -> None:
    for name, balance in balances.items():
        sim.accounts[name].balance = Decimal(balance)


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("title")) for m in messages]


def wait_for_webhook(
    webhook: HttpStub, count: int, notify_type: str | None = None, provider: str = ""
) -> list[dict[str, Any]]:
    def got() -> list[dict[str, Any]]:
        found = webhook.about(provider) if provider else webhook.messages
        if notify_type:
            found = [m for m in found if m.get("type") == notify_type]
        return found if len(found) >= count else []

    what = f"{count} webhook message(s) type={notify_type} provider={provider or '*'}"
    return wait_until(got, DELIVERY_TIMEOUT, lambda: f"{what}; got {titles(webhook.messages)}")


def wait_for_mail(smtp: SmtpReceiver, count: int) -> None:
    wait_until(
        lambda: len(smtp.mails) >= count,
        DELIVERY_TIMEOUT,
        lambda: f"{count} mail(s); got {[m.subject for m in smtp.mails]}",
    )


def assert_no_secret(text: str, where: str) -> None:
    for secret in [SMTP_PASSWORD, *(api_key(kind) for kind in TYPES)]:
        assert secret not in text, f"{where} contains the secret {secret!r}"
    assert SENTINEL not in text, f"{where} contains a sentinel secret"


# -- 1. healthy: silence ------------------------------------------------------------------------


def test_nothing_is_sent_while_all_balances_are_healthy(
    run_daemon: RunDaemon, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> None:
    daemon = run_daemon()
    daemon.wait_for_polls(TYPES, 4)

    assert webhook.messages == []
    assert webhook.rejected == []
    assert smtp.mails == []
    assert smtp.logins == []
    assert daemon.events(("notification_sent", "notification_failed")) == []
    polls = daemon.events("poll")
    assert {p["provider"] for p in polls} == set(TYPES)
    assert {p["severity"] for p in polls} == {"ok"}
    assert all(sim.requests(kind) >= 5 for kind in TYPES)


# -- 2-4. warning, critical, improved, resolved: each exactly once -----------------------------


def test_warning_escalation_improvement_and_resolution_each_sent_once(
    run_daemon: RunDaemon, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> None:
    daemon = run_daemon()
    assert webhook.messages == []
    assert smtp.mails == []

    # Warning: every provider crosses its warning line.
    set_balances(sim, WARNING_BALANCE)
    wait_for_webhook(webhook, len(TYPES), "warning")
    daemon.wait_for_polls(TYPES, 5)
    wait_for_mail(smtp, len(TYPES))  # Apprise spaces mails to one server 5.5 s apart
    for kind in TYPES:
        hooks, mails = webhook.about(kind), smtp.about(kind)
        assert [m["type"] for m in hooks] == ["warning"], titles(hooks)
        assert len(mails) == 1, [m.subject for m in mails]
        assert hooks[0]["title"].startswith(f"[WARNING] {kind}: "), hooks[0]["title"]
        assert "warning threshold" in hooks[0]["title"]
        assert mails[0].subject == hooks[0]["title"]
        assert mails[0].rcpt_tos == ("ops@example.com",)
    assert len(webhook.messages) == len(TYPES)
    assert len(smtp.mails) == len(TYPES)

    # What a user reads: the balance in its unit, the threshold, the breakdown.
    browser7 = webhook.about("browser7")[0]
    assert browser7["title"] == (
        "[WARNING] browser7: balance $4.00 (400 renders) below warning threshold"
    )
    assert "Balance: $4.00 (400 renders)" in browser7["message"]
    assert "Threshold: $10.00 (1,000 renders)" in browser7["message"]
    assert "Breakdown: paid $4.00 (400 renders)" in browser7["message"]
    assert "Checked at: " in browser7["message"]
    mail_text = smtp.about("browser7")[0].text
    assert "Balance: $4.00 (400 renders)" in mail_text
    assert "Threshold: $10.00 (1,000 renders)" in mail_text
    lobstr = webhook.about("lobstr")[0]
    assert "1,500 credits" in lobstr["title"]
    assert "Threshold: 2,000 credits" in lobstr["message"]
    assert "Balance: $4.00\n" in webhook.about("youcom")[0]["message"]
    assert "Threshold: $10.00" in webhook.about("decaptcha")[0]["message"]
    assert "Balance: 1,500 credits" in webhook.about("srtgen")[0]["message"]

    # Escalation: below critical, Apprise type "failure", once.
    set_balances(sim, CRITICAL_BALANCE)
    wait_for_webhook(webhook, len(TYPES), "failure")
    daemon.wait_for_polls(TYPES, 5)
    wait_for_mail(smtp, 2 * len(TYPES))
    for kind in TYPES:
        hooks = webhook.about(kind)
        assert [m["type"] for m in hooks] == ["warning", "failure"], titles(hooks)
        assert hooks[1]["title"].startswith(f"[CRITICAL] {kind}: "), hooks[1]["title"]
        assert "critical threshold" in hooks[1]["title"]
        assert len(smtp.about(kind)) == 2
    critical = webhook.about("browser7")[1]
    assert "$1.50 (150 renders)" in critical["title"]
    assert "Threshold: $2.00 (200 renders)" in critical["message"]
    assert "Severity: critical (was warning)" in critical["message"]

    # A partial top-up, still below warning: the improvement is told once, as a warning.
    set_balances(sim, WARNING_BALANCE)
    wait_for_webhook(webhook, 2 * len(TYPES), "warning")
    daemon.wait_for_polls(TYPES, 2)
    wait_for_mail(smtp, 3 * len(TYPES))
    for kind in TYPES:
        hooks = webhook.about(kind)
        assert [m["type"] for m in hooks] == ["warning", "failure", "warning"], titles(hooks)
        assert hooks[2]["title"].startswith(f"[WARNING] {kind}: "), hooks[2]["title"]
        assert "improved, still below warning threshold" in hooks[2]["title"]
        assert len(smtp.about(kind)) == 3

    # Top-up: one resolution each, Apprise type "success".
    set_balances(sim, TOPPED_UP)
    wait_for_webhook(webhook, len(TYPES), "success")
    wait_for_mail(smtp, 4 * len(TYPES))
    daemon.wait_for_polls(TYPES, 3)
    for kind in TYPES:
        hooks = webhook.about(kind)
        assert [m["type"] for m in hooks][3:] == ["success"], titles(hooks)
        assert "RESOLVED" in hooks[3]["title"]
        assert hooks[3]["title"].startswith(f"[RESOLVED] {kind}: "), hooks[3]["title"]
        assert [m.subject for m in smtp.about(kind)] == titles(hooks)
    resolved = webhook.about("browser7")[3]
    assert resolved["title"] == (
        "[RESOLVED] browser7: balance $50.00 (5,000 renders) back above threshold"
    )
    assert "Severity: ok (was warning)" in resolved["message"]
    assert len(webhook.messages) == 4 * len(TYPES)
    assert len(smtp.mails) == 4 * len(TYPES)
    assert webhook.rejected == []
    assert len(daemon.events("notification_sent")) == 2 * 4 * len(TYPES)


# -- 5. cannot check ----------------------------------------------------------------------------


def test_cannot_check_is_alerted_after_failure_threshold_and_resolved(
    run_daemon: RunDaemon, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> None:
    daemon = run_daemon(defaults={"failure_threshold": 2})

    sim.control("lobstr", status=500)
    daemon.wait_for("poll_failed", provider="lobstr", failures=1)
    # One failure is below the threshold: nothing yet (the next poll is a second away).
    assert webhook.about("lobstr") == []
    assert smtp.about("lobstr") == []

    [alert] = wait_for_webhook(webhook, 1, "warning", provider="lobstr")
    assert alert["title"] == (
        "[WARNING] lobstr: cannot check balance: provider unavailable (HTTP 500)"
    )
    assert "provider unavailable (HTTP 500)" in alert["message"]
    assert "Consecutive failed polls: 2" in alert["message"]
    assert "Last known balance: 8,000 credits" in alert["message"]
    wait_until(lambda: len(smtp.about("lobstr")) == 1, DELIVERY_TIMEOUT, "the cannot-check mail")
    # Sent only once the threshold was reached: after the second failed poll, in log order.
    log = daemon.events(("poll_failed", "notification_sent"), provider="lobstr")
    first_sent = next(i for i, e in enumerate(log) if e["event"] == "notification_sent")
    assert [e.get("failures") for e in log[:first_sent]] == [1, 2], log

    daemon.wait_for_polls(["lobstr"], 4)
    assert len(webhook.about("lobstr")) == 1
    assert len(smtp.about("lobstr")) == 1
    # A failed check is not a resolution of the balance: no balance alert either way.
    assert daemon.events("notification_sent", provider="lobstr", check="balance") == []

    sim.control("lobstr", status=200)
    [back] = wait_for_webhook(webhook, 1, "success", provider="lobstr")
    assert back["title"] == "[RESOLVED] lobstr: balance can be checked again"
    daemon.wait_for_polls(["lobstr"], 2)
    assert [m["type"] for m in webhook.about("lobstr")] == ["warning", "success"]
    assert len(smtp.about("lobstr")) == 2
    others = [kind for kind in TYPES if kind != "lobstr"]
    assert all(webhook.about(kind) == [] for kind in others)


def test_rejected_credentials_are_alerted_at_the_first_failed_poll(
    run_daemon: RunDaemon, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> None:
    daemon = run_daemon(defaults={"failure_threshold": 3})

    sim.accounts["youcom"].api_key = "rotated-at-the-provider"  # our key now gets 401
    [alert] = wait_for_webhook(webhook, 1, "warning", provider="youcom")
    assert alert["title"] == (
        "[WARNING] youcom: cannot check balance: credentials rejected (HTTP 401)"
    )
    assert "credentials rejected (HTTP 401)" in alert["message"]
    assert "Consecutive failed polls: 1" in alert["message"]
    wait_until(lambda: len(smtp.about("youcom")) == 1, DELIVERY_TIMEOUT, "the 401 mail")
    first = daemon.events("poll_failed", provider="youcom")[0]
    assert first["failures"] == 1
    assert "401" in first["error"]

    daemon.wait_for_polls(["youcom"], 3)
    assert len(webhook.about("youcom")) == 1
    assert len(smtp.about("youcom")) == 1


# -- 6. a hanging provider ----------------------------------------------------------------------


def test_a_hanging_provider_does_not_stall_the_others(
    run_daemon: RunDaemon, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> None:
    daemon = run_daemon(
        defaults={"timeout": "2s"}, per_provider={"decaptcha": {"failure_threshold": 2}}
    )
    others = [kind for kind in TYPES if kind != "decaptcha"]

    described = sim.control("decaptcha", hang=True)
    assert described["hang"] is True
    hung_at = sim.requests("decaptcha")
    wait_until(lambda: sim.requests("decaptcha") > hung_at, 5, "a request to the hung provider")
    before = {kind: sim.requests(kind) for kind in others}

    # Alerts still flow for the others while decaptcha hangs.
    sim.accounts["browser7"].balance = Decimal(4)
    [warning] = wait_for_webhook(webhook, 1, "warning", provider="browser7")
    assert "$4.00 (400 renders)" in warning["title"]
    wait_until(lambda: len(smtp.about("browser7")) == 1, DELIVERY_TIMEOUT, "the warning mail")

    # Two timed-out polls of decaptcha take 4 s or more; meanwhile the others poll each second.
    daemon.wait_for("poll_failed", provider="decaptcha", count=2, timeout=12)
    gained = {kind: sim.requests(kind) - before[kind] for kind in others}
    assert all(count >= 3 for count in gained.values()), gained
    failed = daemon.events("poll_failed", provider="decaptcha")
    assert all(e["error"] == "timed out after 2s" for e in failed), failed
    assert all(e["duration_ms"] < 3000 for e in failed), failed

    # The hung provider is reported as "cannot check", with the reason, once.
    [cannot] = wait_for_webhook(webhook, 1, "warning", provider="decaptcha")
    assert cannot["title"] == "[WARNING] decaptcha: cannot check balance: timed out after 2s"
    assert "timed out after 2s" in cannot["message"]
    wait_until(lambda: len(smtp.about("decaptcha")) == 1, DELIVERY_TIMEOUT, "the timeout mail")
    assert sim.accounts["decaptcha"].hang  # still hanging: nothing was resolved by silence
    assert len(webhook.messages) == 2
    assert len(smtp.mails) == 2

    # A stop while decaptcha hangs: a hung poll is bounded by its timeout, so the stop is clean.
    daemon.wait_for_polls(["browser7"], 1)
    assert daemon.stop(signal.SIGTERM, timeout=15) == 0
    assert daemon.events("stop_timeout") == []
    assert daemon.events("stopped")


# -- 7. a notifier that is down when the alert fires --------------------------------------------


def test_webhook_down_when_alert_fires_gets_it_once_after_recovery(
    run_daemon: RunDaemon, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> None:
    daemon = run_daemon()
    webhook.go_down()

    sim.accounts["browser7"].balance = Decimal(4)
    # The mailbox works: the email goes out at once, independently of the webhook.
    wait_until(lambda: len(smtp.about("browser7")) == 1, DELIVERY_TIMEOUT, "the warning mail")
    # The webhook answers 500: the first attempt and the retry one second later fail.
    wait_until(lambda: len(webhook.rejected) >= 2, DELIVERY_TIMEOUT, "two rejected attempts")
    assert webhook.messages == []
    webhook.come_back()

    [alert] = wait_for_webhook(webhook, 1, "warning", provider="browser7")
    assert alert["title"].startswith("[WARNING] browser7: ")
    daemon.wait_for_polls(TYPES, 4)
    assert len(webhook.messages) == 1, titles(webhook.messages)
    assert len(smtp.mails) == 1, [m.subject for m in smtp.mails]
    # Every rejected attempt carried the same alert; none was a second, separate alert.
    assert {m["title"] for m in webhook.rejected} == {alert["title"]}
    failed = daemon.events("notification_attempt_failed", notifier="hook")
    assert len(failed) == len(webhook.rejected)
    # The URL's backoff: steps 1, 2, 4, 8, 16 s, each drawn between half and the whole step.
    steps = [1.0, 2.0, 4.0, 8.0, 16.0][: len(failed)]
    delays = [e["retry_in_s"] for e in failed]
    assert all(s / 2 <= d <= s for d, s in zip(delays, steps, strict=True)), delays
    sent = daemon.events("notification_sent", provider="browser7")
    assert sorted(e["notifier"] for e in sent) == ["hook", "mail"]
    assert daemon.events("notification_failed") == []


# -- 8. secrets ---------------------------------------------------------------------------------


def test_secrets_appear_in_no_output_and_no_notification(
    run_daemon: RunDaemon, sim: SimulatorThread, webhook: HttpStub, smtp: SmtpReceiver
) -> None:
    # Debug logging is where libraries print credentials; failures are where code echoes them.
    daemon = run_daemon(defaults={"failure_threshold": 1}, extra_args=("--log-level", "debug"))
    smtp.refuse_logins()  # the first mail attempts fail at AUTH with our password
    sim.accounts["browser7"].balance = Decimal(4)
    sim.accounts["youcom"].api_key = "rotated-at-the-provider"  # 401
    sim.control("lobstr", status=500)
    sim.control("srtgen", body="<html>not json</html>")
    wait_until(
        lambda: any(not ok for _, ok in smtp.logins), DELIVERY_TIMEOUT, "a refused SMTP login"
    )
    smtp.refuse_logins(False)

    wait_for_webhook(webhook, 1, "warning", provider="browser7")
    for kind in ("youcom", "lobstr", "srtgen"):
        wait_for_webhook(webhook, 1, "warning", provider=kind)
    wait_until(lambda: len(smtp.mails) >= 4, 20, lambda: f"4 mails, got {len(smtp.mails)}")
    assert daemon.events("notification_attempt_failed", notifier="mail")
    assert daemon.stop(signal.SIGTERM) == 0

    assert_no_secret(daemon.stdout, "the daemon's stdout")
    assert_no_secret(daemon.stderr, "the daemon's stderr")
    for message in [*webhook.messages, *webhook.rejected]:
        assert_no_secret(json.dumps(message), f"webhook message {message.get('title')!r}")
    for mail in smtp.mails:
        assert_no_secret(mail.raw, f"mail {mail.subject!r}")
    # The secrets were really in use: the provider accepted the keys, the server the password.
    assert smtp.logins[-1] == ("alertd", True)
    assert daemon.events("poll", provider="browser7")


# -- 9. signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_daemon_cleanly_with_status_0(
    run_daemon: RunDaemon, sig: signal.Signals
) -> None:
    daemon: DaemonProcess = run_daemon()
    daemon.wait_for_polls(TYPES, 1)

    daemon.send_signal(sig)
    assert daemon.wait(timeout=15) == 0
    assert daemon.events("stopping", signal=sig.name)
    assert daemon.events("stopped")
    assert daemon.events(level="error") == []
    assert "Traceback" not in daemon.stderr
