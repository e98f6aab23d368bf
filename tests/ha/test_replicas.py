"""Two `alertd run` replicas on one PostgreSQL act as one (SPEC §7), as a user runs them:
real processes, the simulator, a real webhook receiver, faults made with signals and SQL."""

from __future__ import annotations

import time

import pytest
from support.daemon import wait_until
from support.replicas import ACCOUNT, Replicas

pytestmark = pytest.mark.e2e

WARNING = "[WARNING] wallet"
CRITICAL = "[CRITICAL] wallet"


def _both(replicas: Replicas) -> tuple[str, str]:
    replicas.start("a")
    replicas.start("b")
    leader = replicas.leader()
    standby = "b" if leader == "a" else "a"
    return leader, standby


def test_only_the_leader_polls_and_a_crossing_is_delivered_once(replicas: Replicas) -> None:
    leader, standby = _both(replicas)
    lead, stand = replicas.procs[leader], replicas.procs[standby]
    lead.wait_for_polls([ACCOUNT], 2)
    replicas.set_balance(15)
    replicas.wait_for_message(WARNING)
    lead.wait_for_polls([ACCOUNT], 3)
    assert replicas.count(WARNING) == 1, "\n".join(replicas.titles())
    assert stand.polls(ACCOUNT) == []
    assert stand.events("notification_sent") == []
    status, body = replicas.health(standby)
    assert (status, body["role"]) == (200, "standby")
    status, body = replicas.health(leader)
    assert (status, body["role"]) == (200, "leader")


def _recorded_sent(replicas: Replicas, count: int = 1) -> None:
    """Until `count` claims are marked sent in the store: the leader's send is on record
    (a kill before that is the documented duplicate window, not what these tests probe)."""
    wait_until(
        lambda: (
            replicas.sql("SELECT count(*) FROM alertd_claims WHERE sent_at IS NOT NULL")[0][0]
            >= count
        ),
        15,
        "the notification marked sent in the store",
    )


def _warned(replicas: Replicas) -> tuple[str, str]:
    """Both replicas running, the warning sent once and on record; (leader, standby)."""
    leader, standby = _both(replicas)
    replicas.set_balance(15)
    replicas.wait_for_message(WARNING)
    _recorded_sent(replicas)
    return leader, standby


def test_sigkill_of_the_leader_the_standby_takes_over_and_nothing_is_lost_or_repeated(
    replicas: Replicas,
) -> None:
    replicas.defaults["repeat_interval"] = "3s"
    leader, standby = _warned(replicas)
    killed = replicas.kill(leader)
    assert replicas.leader(30, among=[standby]) == standby
    took = time.monotonic() - killed
    assert took < 30, f"takeover took {took:.1f}s"
    # The reminder fell due while nobody led (3 s after the warning): the new leader sends it.
    replicas.wait_for_message(f"{WARNING}: balance $15.00 (1,500 renders) still below", 20)
    replicas.set_balance(3)
    replicas.wait_for_message(CRITICAL, 20)
    replicas.procs[standby].wait_for_polls([ACCOUNT], 2)
    titles = replicas.titles()
    shown = "\n".join(titles)
    firsts = [t for t in titles if "below warning threshold" in t and "still" not in t]
    assert len(firsts) == 1, shown
    assert sum("fell below critical" in t for t in titles) == 1, shown
    reminders = [m for m in replicas.webhook.about(ACCOUNT) if "still below warning" in m["title"]]
    assert reminders, shown


def test_a_paused_leader_is_replaced_and_once_resumed_sends_nothing(replicas: Replicas) -> None:
    leader, standby = _both(replicas)
    old = replicas.procs[leader]
    old.wait_for_polls([ACCOUNT], 2)
    replicas.pause(leader)
    paused = time.monotonic()
    try:
        replicas.set_balance(3)  # news the paused leader would announce as soon as it wakes
        assert replicas.leader(30, among=[standby]) == standby
        assert time.monotonic() - paused < 30
        replicas.wait_for_message(CRITICAL, 20)
    finally:
        replicas.resume(leader)
    polls_before = len(old.polls(ACCOUNT))
    old.wait_for("role_changed", role="standby", timeout=15)
    replicas.procs[standby].wait_for_polls([ACCOUNT], 3)
    assert replicas.count(CRITICAL) == 1, "\n".join(replicas.titles())
    assert len(old.polls(ACCOUNT)) == polls_before, "the deposed leader polled after waking"
    assert old.events("notification_sent") == []
    assert replicas.health(leader)[1]["role"] == "standby"


def test_terminating_the_leaders_lease_session_moves_leadership_and_duplicates_nothing(
    replicas: Replicas,
) -> None:
    leader, standby = _warned(replicas)
    ended = replicas.terminate_lease_session(leader)
    assert ended == 1
    assert replicas.leader(30, among=[standby]) == standby
    replicas.set_balance(3)
    replicas.wait_for_message(CRITICAL, 20)
    replicas.procs[standby].wait_for_polls([ACCOUNT], 3)
    assert replicas.count(WARNING) == 1, "\n".join(replicas.titles())
    assert replicas.count(CRITICAL) == 1, "\n".join(replicas.titles())
    assert replicas.role(replicas.procs[leader]) == "standby"


def test_postgresql_restarted_under_both_replicas_they_recover_without_a_restart(
    replicas: Replicas,
) -> None:
    leader, standby = _warned(replicas)
    samples = replicas.sql("SELECT count(*) FROM alertd_samples")[0][0]
    replicas.server.restart()
    replicas.set_balance(3)
    replicas.wait_for_message(CRITICAL, 30)
    replicas.wait_for_polls(3, 40)  # polling goes on, by whichever replica leads now
    replicas.leader(40)
    for name in (leader, standby):
        replicas.procs[name].assert_running()
        replicas.wait_healthy(name, 20)
    assert replicas.count(WARNING) == 1, "\n".join(replicas.titles())
    assert replicas.count(CRITICAL) == 1, "\n".join(replicas.titles())
    wait_until(
        lambda: replicas.sql("SELECT count(*) FROM alertd_samples")[0][0] > samples + 1,
        15,
        "readings written again after the restart",
    )


def test_an_unreachable_database_is_reported_and_alerts_still_go_out(replicas: Replicas) -> None:
    leader, standby = _both(replicas)
    replicas.procs[leader].wait_for_polls([ACCOUNT], 1)
    replicas.server.stop()
    try:
        for name in (leader, standby):
            status, body = replicas.wait_health(name, "database unreachable", 20)
            assert status == 503
            assert body["status"] == "unhealthy"
            assert "alertd_database_up 0.0" in replicas.metrics(name)
        wait_until(
            lambda: all(replicas.health(n)[1].get("role") == "fail-open" for n in replicas.procs),
            20,
            "both replicas failing open",
        )
        replicas.set_balance(15)
        replicas.wait_for_message(WARNING, 20)
        # Each replica cut off from the database alerts on its own (duplicates over silence).
        assert 1 <= replicas.count(WARNING) <= 2, "\n".join(replicas.titles())
    finally:
        replicas.server.start()
    replicas.leader(40)
    for name in (leader, standby):
        replicas.wait_healthy(name, 30)
