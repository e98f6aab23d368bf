"""What every store promises (`alertd.store.base.Store`), run against each implementation:
alert state with its notification log round-trips, history reads back in order and within
its bounds, and retention folds old readings into hourly summaries whose `spent` ignores
rises (top-ups are events, never negative spending)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from alertd.core.model import Severity
from alertd.core.series import Summary
from alertd.core.state import CheckState
from alertd.store.base import Record, Store
from store.data import T0, at, checks, logged, sample, topup


async def test_an_empty_store_has_no_state_and_no_history(store: Store) -> None:
    assert await store.load_state() == {}
    assert await store.load_samples({"wallet": T0}) == {"wallet": []}
    history = await store.history("wallet", T0 - timedelta(days=365))
    assert (history.samples, history.summaries, history.events, history.notifications) == (
        (),
        (),
        (),
        (),
    )
    assert store.status().ok


async def test_alert_state_with_its_notification_log_round_trips(store: Store) -> None:
    store.submit(Record("render-farm", checks=checks()))
    store.submit(Record("scraper", checks={"fetch": checks()["fetch"]}))
    await store.flush()
    assert await store.load_state() == {
        "render-farm": checks(),
        "scraper": {"fetch": checks()["fetch"]},
    }
    assert store.status().ok
    assert store.status().backlog == 0


async def test_a_newer_snapshot_replaces_the_provider_checks_whole(store: Store) -> None:
    store.submit(Record("wallet", checks=checks("first")))
    newer = {"balance": CheckState(Severity.OK, "back above", at(minutes=30))}
    store.submit(Record("wallet", checks=newer))  # unpaid_bill and fetch are gone, sent too
    store.submit(Record("other", checks=checks()))
    await store.flush()
    state = await store.load_state()
    assert state == {"wallet": newer, "other": checks()}
    assert state["wallet"]["balance"].sent == {}


async def test_empty_checks_forget_a_provider(store: Store) -> None:
    store.submit(Record("wallet", checks=checks()))
    await store.flush()
    store.submit(Record("wallet", checks={}))
    await store.flush()
    assert await store.load_state() == {}


async def test_readings_top_ups_and_notifications_read_back_in_order(store: Store) -> None:
    readings = [
        sample(0, "7189.245", "USD"),
        sample(10, "7189.2449999999999999999", "USD"),  # digits a float would lose
        sample(20, "1.5E+3", "credits", capacity="25000"),
        sample(30, "-12.50", "credits", capacity="25000"),  # overdrawn: a real reading
    ]
    for reading in reversed(readings):  # submission order does not matter
        store.submit(Record("wallet", sample=reading))
    store.submit(Record("wallet", events=(topup(25, "500", "1500.00"),)))
    store.submit(Record("wallet", sent=(logged("wallet", 12), logged("wallet", 3, "fetch"))))
    store.submit(Record("other", sample=sample(5, "1")))
    await store.flush()

    history = await store.history("wallet", T0)
    assert history.provider == "wallet"
    assert history.samples == tuple(readings)
    assert [str(s.amount) for s in history.samples] == [
        "7189.245",
        "7189.2449999999999999999",
        "1.5E+3",
        "-12.50",
    ]
    assert history.events == (topup(25, "500", "1500.00"),)
    assert history.notifications == (logged("wallet", 3, "fetch"), logged("wallet", 12))
    assert history.summaries == ()


async def test_a_second_reading_at_the_same_instant_replaces_the_first(store: Store) -> None:
    store.submit(Record("wallet", sample=sample(0, "10")))
    store.submit(Record("wallet", sample=sample(0, "9")))
    await store.flush()
    assert (await store.history("wallet", T0)).samples == (sample(0, "9"),)


async def test_history_keeps_to_its_bounds(store: Store) -> None:
    for minute in range(0, 60, 10):
        store.submit(Record("wallet", sample=sample(minute, str(100 - minute))))
        store.submit(Record("wallet", sent=(logged("wallet", minute),)))
    store.submit(Record("wallet", events=(topup(20, "5", "85"), topup(50, "5", "55"))))
    await store.flush()

    window = await store.history("wallet", at(10), at(30))  # both ends included
    assert [s.at for s in window.samples] == [at(10), at(20), at(30)]
    assert [n.at for n in window.notifications] == [at(10), at(20), at(30)]
    assert [e.at for e in window.events] == [at(20)]
    assert [s.at for s in (await store.history("wallet", at(45))).samples] == [at(50)]
    assert (await store.history("nobody", T0)).samples == ()


async def test_load_samples_gives_each_named_provider_its_own_window(store: Store) -> None:
    for minute in range(0, 50, 10):
        store.submit(Record("a", sample=sample(minute, str(50 - minute))))
        store.submit(Record("b", sample=sample(minute, str(90 - minute))))
    store.submit(Record("c", sample=sample(0, "1")))
    await store.flush()

    loaded = await store.load_samples({"a": at(30), "b": at(5), "new": T0})
    assert set(loaded) == {"a", "b", "new"}  # only those asked for
    assert loaded["a"] == [sample(30, "20"), sample(40, "10")]  # `since` included
    assert [s.at for s in loaded["b"]] == [at(10), at(20), at(30), at(40)]
    assert loaded["new"] == []


def summary(hour: int, first: str, last: str, low: str, high: str, spent: str, n: int) -> Summary:
    return Summary(
        at(hours=hour),
        "USD",
        Decimal(first),
        Decimal(last),
        Decimal(low),
        Decimal(high),
        Decimal(spent),
        n,
    )


async def test_compaction_folds_old_readings_into_hourly_summaries(store: Store) -> None:
    series = [
        (0, "100"), (20, "90"), (40, "95.50"),  # hour 0: a top-up of 5.50 is no spending
        (60, "80"), (75, "70.25"), (119, "70.25"),  # hour 1: the 15.50 drop at :00 counts here
        (120, "300"), (150, "290"),  # hour 2: a big top-up, then 10 spent
        (200, "280"),  # hour 3: within retention, kept raw
    ]  # fmt: skip
    for minute, amount in series:
        store.submit(Record("wallet", sample=sample(minute, amount)))
    store.submit(Record("kept", sample=sample(0, "5")))
    await store.flush()

    now = at(hours=4, minutes=5)  # whole hours before 03:00 are older than 1h: folded
    folded = await store.compact(now, {"wallet": timedelta(hours=1), "kept": timedelta(days=90)})
    assert folded == 8

    history = await store.history("wallet", T0)
    assert history.summaries == (
        summary(0, "100", "95.50", "90", "100", "10", 3),
        summary(1, "80", "70.25", "70.25", "80", "25.25", 3),
        summary(2, "300", "290", "290", "300", "10", 2),
    )
    assert history.samples == (sample(200, "280"),)
    assert (await store.history("kept", T0)).samples == (sample(0, "5"),)
    assert await store.load_samples({"wallet": T0}) == {"wallet": [sample(200, "280")]}
    # Nothing left to fold: a second run changes nothing.
    assert await store.compact(now, {"wallet": timedelta(hours=1)}) == 0
    assert (await store.history("wallet", T0)).summaries == history.summaries


async def test_later_compactions_continue_the_spent_counter_across_runs(store: Store) -> None:
    for minute, amount in [(0, "50"), (30, "40"), (60, "35"), (90, "20")]:
        store.submit(Record("wallet", sample=sample(minute, amount)))
    await store.flush()
    assert await store.compact(at(hours=3, minutes=5), {"wallet": timedelta(hours=2)}) == 2
    assert await store.compact(at(hours=4, minutes=5), {"wallet": timedelta(hours=2)}) == 2
    summaries = (await store.history("wallet", T0)).summaries
    # hour 1 counts the drop from hour 0's last reading (40 -> 35) although a run apart
    assert [s.spent for s in summaries] == [Decimal("10"), Decimal("20")]
    assert sum(s.spent for s in summaries) == Decimal(50) - Decimal(20)


async def test_history_shows_the_summaries_of_the_hours_it_spans(store: Store) -> None:
    for minute in range(0, 240, 30):
        store.submit(Record("wallet", sample=sample(minute, str(1000 - minute))))
    await store.flush()
    await store.compact(at(hours=10), {"wallet": timedelta(hours=1)})
    hours = [s.hour for s in (await store.history("wallet", at(hours=1, minutes=30))).summaries]
    assert hours == [at(hours=1), at(hours=2), at(hours=3)]  # the hour under way at `since` too
    bounded = await store.history("wallet", at(hours=1, minutes=30), at(hours=2, minutes=59))
    assert [s.hour for s in bounded.summaries] == [at(hours=1), at(hours=2)]
