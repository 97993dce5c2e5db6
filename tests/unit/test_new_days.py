"""Ongoing harvests (`yyyymmdd-ongoing`): the past first, then each day once TikTok has
archived it, scheduled by the fleet itself, never a day twice, through crashes at any step,
clocks that jump days ahead, cancels and expired access.

The fleet here is the handlers run one message at a time on fakeredis, with the fleet's clock
set to the moment each step of a test is about (tests/unit/new_days_helpers.py).
"""

import dataclasses
import datetime as dt
import json

import pytest

from core import messages, windows
from core.credentials import load_credentials
from core.messages import producer_broker
from producers import control
from producers.spec import SpecRefused, validate
from schemas.messages import NewDaysTask
from tests.unit.conftest import BIG, write_credentials
from tests.unit.new_days_helpers import (
    SUBMITTED,
    VIDEOS_A_DAY,
    DailyTikTok,
    Fleet,
    at,
    days_between,
    stored_videos,
    submit,
)
from tests.unit.test_crash_anywhere import Fuse, fused


@pytest.fixture
def fleet(settings, broker, fake):
    return Fleet(settings, broker, fake, DailyTikTok())


# --- the spec ------------------------------------------------------------------------------------


def test_an_ongoing_period_plans_the_archived_past_and_the_day_its_schedule_starts(credentials_file):
    plan = validate({"id": "d", "project": "climate", "period": "20261001-ongoing", "keywords": ["klimaat"]},
                    load_credentials(credentials_file), now=SUBMITTED.timestamp())
    assert plan.ongoing and plan.period_end == "ongoing" and plan.new_days_from == "20261128"
    assert plan.windows == ["20261028-20261127", "20261001-20261027"]


def test_an_ongoing_period_that_starts_within_the_archive_lag_has_no_past_to_harvest(credentials_file):
    plan = validate({"id": "d", "project": "climate", "period": "20261129-ongoing", "keywords": ["klimaat"]},
                    load_credentials(credentials_file), now=SUBMITTED.timestamp())
    assert plan.windows == [] and plan.new_days_from == "20261129"


def test_an_ongoing_harvest_with_no_past_says_so_and_asks_for_its_first_day_once_archived(fleet):
    plan = submit(fleet, period="20261129-ongoing")
    fleet.run(SUBMITTED.timestamp())
    ctx = fleet.context(SUBMITTED.timestamp())
    status = ctx.store.registered_status(plan.id)
    assert status.state == "queued" and status.through is None and status.next_day_at == at("20261202", 1)
    fleet.run(at("20261202", 1.5))
    status = ctx.store.registered_status(plan.id)
    assert status.state == "caught_up" and status.through == "20261129"
    assert fleet.tiktok.windows == [("20261129", "20261129")]


@pytest.mark.parametrize("period", ["20261001-ongoin", "20261001-Ongoing", "ongoing", "20261001-", "-ongoing",
                                    "20261001-ongoing-20261201"])
def test_a_malformed_ongoing_period_is_refused_naming_the_field(credentials_file, period):
    with pytest.raises(SpecRefused) as refused:
        validate({"id": "d", "project": "climate", "period": period, "keywords": ["klimaat"]},
                 load_credentials(credentials_file), now=SUBMITTED.timestamp())
    assert refused.value.field == "period"


def test_an_ongoing_period_that_starts_in_the_future_is_refused(credentials_file):
    with pytest.raises(SpecRefused, match="future"):
        validate({"id": "d", "project": "climate", "period": "20261201-ongoing", "keywords": ["klimaat"]},
                 load_credentials(credentials_file), now=SUBMITTED.timestamp())


def test_a_refresh_schedule_applies_only_to_an_ongoing_period(credentials_file):
    with pytest.raises(SpecRefused) as refused:
        validate({"id": "d", "project": "climate", "period": "20261001-20261031", "keywords": ["klimaat"],
                  "refresh_every_days": 7}, load_credentials(credentials_file), now=SUBMITTED.timestamp())
    assert refused.value.field == "refresh_every_days"
    ongoing = validate({"id": "d", "project": "climate", "period": "20261001-ongoing", "keywords": ["klimaat"]},
                       load_credentials(credentials_file), now=SUBMITTED.timestamp())
    assert ongoing.refresh_every_days == 15  # TikTok's terms: at least every 15 days


def test_the_days_archive_moment_is_49_hours_after_the_day_ends():
    day = dt.date(2026, 11, 28)
    assert windows.archived_at(day) == at("20261201", 1)
    assert windows.last_archived_day(at("20261201", 1)) == day
    assert windows.last_archived_day(at("20261201", 0.99)) == day - dt.timedelta(days=1)


# --- the schedule ----------------------------------------------------------------------------------


def test_the_past_then_each_day_once_archived_and_a_gap_of_days_in_one_window(fleet):
    plan = submit(fleet)
    fleet.run(SUBMITTED.timestamp())
    ctx = fleet.context(SUBMITTED.timestamp())
    status = ctx.store.registered_status(plan.id)
    assert status.state == "caught_up" and status.through == "20261127"
    assert status.next_day_at == at("20261201", 1)
    assert status.period == "20261120-ongoing" and status.users_done == 2
    assert fleet.tiktok.windows == [("20261120", "20261127")]

    fleet.run(at("20261201", 0.5))  # the next day is not archived yet: nothing asked
    assert len(fleet.tiktok.windows) == 1
    fleet.run(at("20261201", 2))
    assert fleet.tiktok.windows[-1] == ("20261128", "20261128")
    assert ctx.store.registered_status(plan.id).through == "20261128"

    fleet.run(at("20261205", 12))  # the fleet was down for four days: they come in one window
    assert fleet.tiktok.windows[-1] == ("20261129", "20261202")
    status = ctx.store.registered_status(plan.id)
    assert status.state == "caught_up" and status.through == "20261202" and status.dead_letters == 0
    assert sorted(fleet.tiktok.days_asked()) == days_between("20261120", "20261202")  # each day once
    ids = stored_videos(ctx, plan)
    assert len(ids) == len(set(ids)) == 13 * VIDEOS_A_DAY == status.records
    # Authors were expanded in the new days' records as well, once their profiles were in.
    record = json.loads(next(ctx.storage.records_dir(plan).glob("tiktok_videos_20261129-20261202_*.json"))
                        .read_bytes())[0]
    assert record["author"]["name"] in ("Alice", "Bob")
    assert record["isBasedOn"]["isPartOf"]["temporalCoverage"] == "2026-11-20/.."
    # The schedule goes on: one task waits, for the next day.
    assert [NewDaysTask(**json.loads(body)["args"][0]).day for _, body in fleet.waiting] == ["20261203"]


def test_a_second_copy_of_a_days_task_asks_for_nothing_again(fleet):
    plan = submit(fleet)
    fleet.run(SUBMITTED.timestamp())
    # The task for 20261128 twice, under another message id (a parked copy and its original
    # both back after a crash, say).
    copies = [(queue, body.replace(json.loads(body)["message_id"].encode(), b"another-id"))
              for queue, body in fleet.waiting]
    fleet.waiting += copies
    fleet.run(at("20261201", 2))
    fleet.run(at("20261202", 2))
    assert sorted(fleet.tiktok.days_asked()) == days_between("20261120", "20261129")
    assert fleet.context(SUBMITTED.timestamp()).store.registered_status(plan.id).through == "20261129"


def test_a_crash_at_any_step_of_a_new_day_asks_for_no_day_twice_and_misses_none(settings, monkeypatch, tmp_path):
    """Each step of each message may be a process's death; its message comes back two days
    later (the fleet was down): the window it adds stays the one fixed first."""
    import fakeredis

    monkeypatch.setattr("os.fsync", lambda fd: None)

    def scenario(blow_at: int | None):
        fake = fakeredis.FakeRedis()
        own = dataclasses.replace(settings, data_dir=tmp_path / f"run-{blow_at}")
        fleet = Fleet(own, producer_broker(own, fake), fake, DailyTikTok())
        plan = submit(fleet)
        fleet.run(SUBMITTED.timestamp())
        fuse = Fuse(blow_at)
        with monkeypatch.context() as patch:
            patch.setattr(messages, "send", fused(messages.send, fuse))
            crashes = fleet.run(at("20261201", 2), fuse, crashed_back_later=True)
        fleet.run(at("20261203", 2))  # whatever came back after the crash, and the days since
        ctx = fleet.context(at("20261203", 2))
        return fleet, ctx, plan, crashes, fuse.ticks

    clean, ctx, plan, _, steps = scenario(None)
    assert clean.tiktok.windows == [("20261120", "20261127"), ("20261128", "20261128"), ("20261129", "20261130")]
    assert steps > 30
    expected = sorted(stored_videos(ctx, plan))
    for blow_at in range(1, steps + 1):
        fleet, ctx, plan, crashes, _ = scenario(blow_at)
        assert crashes == 1, blow_at
        # The windows opened cover every day once: the one a first delivery fixed, or, when
        # it died before fixing one, the wider one the clock allows two days later. (A crash
        # between TikTok's answer and its storing asks for that page again: a page's crash,
        # not a day added twice.)
        opened = sorted(window.decode() for window in fleet.fake.hkeys(ctx.keys.windows(plan.id)))
        assert sorted(day for window in opened for day in days_between(*window.split("-"))) == days_between(
            "20261120", "20261130"), (blow_at, opened)
        assert sorted(set(fleet.tiktok.windows)) == sorted(tuple(window.split("-")) for window in opened), blow_at
        assert sorted(stored_videos(ctx, plan)) == expected, blow_at
        status = ctx.store.registered_status(plan.id)
        assert status.state == "caught_up" and status.through == "20261130", (blow_at, status.state)


def test_a_caught_up_ongoing_harvest_can_be_paused_and_cancelled_and_then_asks_for_no_new_day(fleet):
    plan = submit(fleet)
    fleet.run(SUBMITTED.timestamp())
    keys = fleet.context(SUBMITTED.timestamp()).keys
    assert control.pause(fleet.fake, keys, plan.id).status.state == "paused"
    assert control.cancel(fleet.fake, keys, plan.id).changed
    fleet.run(at("20261203", 2))
    assert fleet.tiktok.windows == [("20261120", "20261127")] and fleet.waiting == []
    assert fleet.context(SUBMITTED.timestamp()).store.registered_status(plan.id).state == "cancelled"


def test_when_access_ends_the_schedule_waits_and_goes_on_once_a_valid_key_is_added(fleet):
    credentials = fleet.settings.credentials_file
    write_credentials(credentials, today=dt.date(2026, 11, 30))
    plan = submit(fleet)
    fleet.run(SUBMITTED.timestamp())
    # The key's access period ends on 20261201 (600 days after this `today`); no renewal yet.
    write_credentials(credentials, today=dt.date(2026, 12, 1) - dt.timedelta(days=600))
    fleet.run(at("20261203", 2))
    ctx = fleet.context(at("20261203", 2))
    status = ctx.store.registered_status(plan.id)
    assert status.state == "access_expired" and status.through == "20261127"
    assert fleet.tiktok.windows == [("20261120", "20261127")]

    write_credentials(credentials, today=dt.date(2026, 11, 30))  # renewed
    fleet.run(at("20261203", 3))
    status = ctx.store.registered_status(plan.id)
    assert status.state == "caught_up" and status.through == "20261130"
    assert fleet.tiktok.windows[-1] == ("20261128", "20261130")


def test_a_caught_up_ongoing_harvest_keeps_its_state_through_the_retention_sweep(fleet):
    from workers import retention

    plan = submit(fleet)
    fleet.run(SUBMITTED.timestamp())
    ctx = fleet.context(SUBMITTED.timestamp())
    retention.sweep(fleet.fake, ctx.keys, ctx.settings, now=SUBMITTED.timestamp() + 90 * 86400)
    assert fleet.fake.pttl(ctx.keys.plan(plan.id)) == -1
    assert ctx.store.registered_status(plan.id).state == "caught_up"


def test_an_ongoing_harvest_refreshes_itself_every_few_days_and_drops_what_tiktok_deleted(fleet):
    plan = submit(fleet, refresh_every_days=2)
    fleet.run(SUBMITTED.timestamp())
    fleet.run(at("20261201", 2))
    fleet.run(at("20261202", 2))  # a day and 14 hours after the submission: not due yet
    assert fleet.tiktok.refresh_queries == 0
    deleted = BIG + (dt.date(2026, 11, 22) - dt.date(2026, 1, 1)).days * 10  # alice's video of 20261122
    fleet.tiktok.gone.add(deleted)
    fleet.run(at("20261203", 2))  # two days and 14 hours: the day's task starts a refresh
    ctx = fleet.context(at("20261203", 2))
    status = ctx.store.registered_status(plan.id)
    assert status.refresh is not None and status.refresh.state == "done" and status.refresh.gone == 1
    # (Started before the new day's page came in: the days up to 20261129.)
    assert status.refresh.videos == 10 * VIDEOS_A_DAY and fleet.tiktok.refresh_queries == 1
    assert f"iCANDID_tiktok_{deleted}" not in stored_videos(ctx, plan)
    assert len(stored_videos(ctx, plan)) == 11 * VIDEOS_A_DAY - 1  # the day added meanwhile stays
    assert status.state == "caught_up" and status.through == "20261130"
    assert fleet.fake.pttl(ctx.keys.plan(plan.id)) == -1  # the refresh gave its keys no expiry
    fleet.run(at("20261204", 2))  # a day after that refresh: none
    assert fleet.tiktok.refresh_queries == 1


def test_catching_up_waits_for_a_refresh_moving_records_out_of_the_pages_it_would_rewrite(fleet):
    plan = submit(fleet)
    ctx = fleet.context(SUBMITTED.timestamp())
    fleet.fake.set(ctx.keys.records_lock(plan.id), "a refresh's removal, in progress")
    fleet.run(SUBMITTED.timestamp())
    status = ctx.store.registered_status(plan.id)
    assert status.state == "running" and status.pages == 1 and len(fleet.waiting) == 2  # (+ the finisher)
    assert ctx.storage.records_dir(plan).joinpath("tiktok_user_alice.json").exists()
    assert not _expanded(ctx, plan)
    fleet.fake.delete(ctx.keys.records_lock(plan.id))  # the removal is through
    fleet.run(SUBMITTED.timestamp())
    assert ctx.store.registered_status(plan.id).state == "caught_up" and _expanded(ctx, plan)


def _expanded(ctx, plan) -> bool:
    page = next(ctx.storage.records_dir(plan).glob("tiktok_videos_*.json"))
    return all("name" in record["author"] for record in json.loads(page.read_bytes()))


def test_the_plan_of_an_ongoing_harvest_covers_its_past_and_says_what_each_new_day_costs(credentials_file):
    from producers.estimate import estimate

    plan = validate({"id": "d", "project": "climate", "period": "20261001-ongoing", "keywords": ["klimaat"]},
                    load_credentials(credentials_file), now=SUBMITTED.timestamp())
    found = estimate(plan, keys=["climate-key"], daily_requests=1000, requests_left_today=1000, harvests_sharing=0)
    assert found.windows == plan.windows and found.requests_at_least == 2
    assert found.new_days_from == "20261128"
