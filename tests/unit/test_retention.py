"""Retention (workers/retention.py): a running harvest's keys never expire, a done harvest's
all expire after the retention, a failed harvest keeps everything until it is replayed,
purged or forgotten by the sweep, and dead letters do not stay for ever."""

import time

import httpx
import msgspec
import pytest

from core.config import Settings
from producers import control
from schemas.messages import PageTask
from tests.unit.conftest import (
    WINDOW,
    error_body,
    page_body,
    page_tasks,
    queued,
    take,
    user_body,
    user_tasks,
    video,
)
from tests.unit.page_helpers import END, START, first
from workers import retention
from workers.finish import harvest_finished
from workers.middleware.dead_letters import DeadLetter, list_dead, prune, record, replay
from workers.middleware.sweeper import FleetSweeper
from workers.pages import handle_page
from workers.tiktok.errors import PermanentError
from workers.users import handle_user

DAY = 86400
UNIT_P1 = "page:20240101-20240131:00001"


def harvest_keys(fake, ctx, harvest) -> list[str]:
    return sorted(key.decode() for key in fake.scan_iter(match=ctx.keys.harvest_keys_pattern(harvest)))


def expiries(fake, ctx, harvest, *, leases=False) -> dict[str, int]:
    """Key -> seconds left (-1: none), leases left out unless asked for."""
    return {key: fake.ttl(key) for key in harvest_keys(fake, ctx, harvest) if leases or ":lease:" not in key}


def letter(harvest, message_id, failed_at, **fields) -> DeadLetter:
    return DeadLetter(message_id=message_id, harvest_id=harvest, queue_name="pages", actor_name="fetch_page",
                      payload={"harvest_id": harvest, "window": WINDOW, "page": 1}, reason="refused",
                      failed_at=failed_at, **fields)


def fail_second_page(ctx, plan, tiktok, fake) -> PageTask:
    """Page 0 stored (its videos claimed), page 1 refused for good and dead-lettered."""
    tiktok.add_video(START, END, None, page_body([video(1), video(2)], cursor=100, has_more=True, search_id="S"))
    handle_page(ctx, first(plan), "m0", 0)
    (second,) = page_tasks(take(fake, "pages"))
    tiktok.add_video(START, END, 100, httpx.Response(400, content=error_body("invalid_params", "refused")))
    with pytest.raises(PermanentError):
        handle_page(ctx, second, "m1", 0)
    dead = letter(plan.id, "m1", time.time(), lease_token="m1")
    dead.payload = msgspec.to_builtins(second)
    record(fake, ctx.keys, dead, keep_s=30 * DAY)
    return second


# --- running and done ------------------------------------------------------------------------------


def test_a_running_harvest_has_no_key_that_expires(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=True, search_id="S"))
    handle_page(ctx, first(plan), "m0", 0)
    keys = expiries(fake, ctx, plan.id)
    assert {ctx.keys.plan(plan.id), ctx.keys.meta(plan.id), ctx.keys.owners(plan.id), ctx.keys.fetched(plan.id),
            ctx.keys.done(plan.id), ctx.keys.stats(plan.id), ctx.keys.users_requested(plan.id)} <= set(keys)
    assert set(keys.values()) == {-1}
    assert ctx.store.status(plan.id, failed_retention_s=30 * DAY).forget_at is None


def test_a_done_harvest_gives_every_key_the_retention_and_the_claims_a_day(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(1, "alice")], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    (user,) = user_tasks(take(fake, "users"))
    tiktok.add_user("alice", user_body())
    handle_user(ctx, user, "u0")
    status = ctx.store.status(plan.id)
    assert status.state == "done"

    keep = ctx.settings.harvest_retention_days * DAY
    left = expiries(fake, ctx, plan.id, leases=True)
    claims = {ctx.keys.owners(plan.id), ctx.keys.fetched(plan.id)}
    assert claims <= set(left) and len(left) > len(claims)
    for key, seconds in left.items():
        if key in claims:
            assert 0 < seconds <= DAY, key
        else:
            assert keep - 60 < seconds <= keep, key
    assert keep - 60 < status.forget_at - time.time() <= keep
    assert status.forget_at - status.finished_at == pytest.approx(keep, abs=60)


def test_finishing_again_after_a_crash_does_not_push_the_date_back(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    fake.expire(ctx.keys.stats(plan.id), 500)  # as if the retention had run for a while
    harvest_finished(ctx, plan)
    assert 0 < fake.ttl(ctx.keys.stats(plan.id)) <= 500


def test_a_lease_that_expires_sooner_than_the_retention_keeps_its_expiry(ctx, plan, fake):
    lease = ctx.keys.lease(plan.id, UNIT_P1)
    fake.hset(lease, "owner", "m9")
    fake.expire(lease, 600)
    assert retention.expire_finished(fake, ctx.keys, plan.id, keep_s=30 * DAY, claims_s=DAY) >= 2
    assert 0 < fake.ttl(lease) <= 600
    assert fake.ttl(ctx.keys.plan(plan.id)) > DAY


def test_the_retentions_are_read_from_the_environment_and_must_be_positive(monkeypatch):
    monkeypatch.setenv("HARVEST_RETENTION_DAYS", "7")
    monkeypatch.setenv("HARVEST_FAILED_RETENTION_DAYS", "90")
    settings = Settings()
    assert (settings.harvest_retention_days, settings.harvest_failed_retention_days) == (7, 90)
    assert (retention.retention_s(settings), retention.failed_retention_s(settings)) == (7 * DAY, 90 * DAY)
    monkeypatch.setenv("HARVEST_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="HARVEST_RETENTION_DAYS"):
        Settings()


# --- failed ----------------------------------------------------------------------------------------------


def test_a_failed_harvest_keeps_its_claims_and_every_key_until_it_is_replayed(ctx, make_plan, tiktok, fake, broker):
    plan = make_plan(collect=["videos"])
    fail_second_page(ctx, plan, tiktok, fake)
    status = ctx.store.status(plan.id, failed_retention_s=30 * DAY)
    assert status.state == "failed"
    assert set(expiries(fake, ctx, plan.id).values()) == {-1}
    assert fake.hlen(ctx.keys.owners(plan.id)) == 2 and fake.hlen(ctx.keys.fetched(plan.id)) == 1
    assert 30 * DAY - 60 < status.forget_at - time.time() <= 30 * DAY  # from its last dead letter

    (dead,) = list_dead(fake, ctx.keys, plan.id)
    replay(broker, fake, ctx.keys, dead)
    (again,) = page_tasks(queued(fake, "pages"))
    tiktok.add_video(START, END, 100, page_body([video(2), video(3)], cursor=200, has_more=False))
    handle_page(ctx, again, "m1", 0)
    assert ctx.store.status(plan.id).state == "done"
    assert -1 not in expiries(fake, ctx, plan.id).values()


def test_the_sweep_forgets_a_failed_harvest_after_its_retention_with_its_dead_letters(ctx, plan, tiktok, fake,
                                                                                    make_plan):
    fail_second_page(ctx, plan, tiktok, fake)
    other = make_plan(id="tiktok_query_other")
    settings = ctx.settings

    soon = retention.sweep(fake, ctx.keys, settings, now=time.time() + 29 * DAY)
    assert soon.forgotten == [] and ctx.store.status(plan.id).state == "failed"

    late = retention.sweep(fake, ctx.keys, settings, now=time.time() + 31 * DAY)
    assert late.forgotten == [plan.id]
    assert harvest_keys(fake, ctx, plan.id) == []
    assert list_dead(fake, ctx.keys) == []
    assert ctx.store.harvest_ids() == [other.id]
    assert fake.exists(ctx.keys.purged(plan.id))  # its messages still queued are dropped quietly


def test_the_sweep_purges_a_cancelled_harvest_after_its_retention(ctx, plan, fake):
    control.cancel(fake, ctx.keys, plan.id)
    assert retention.sweep(fake, ctx.keys, ctx.settings, now=time.time() + 29 * DAY).forgotten == []
    assert ctx.store.status(plan.id).state == "cancelled"
    assert retention.sweep(fake, ctx.keys, ctx.settings, now=time.time() + 31 * DAY).forgotten == [plan.id]
    assert harvest_keys(fake, ctx, plan.id) == []
    assert fake.exists(ctx.keys.purged(plan.id))  # its messages still queued are dropped quietly


def test_a_failed_harvest_that_still_calls_the_api_is_not_forgotten(ctx, plan, tiktok, fake):
    fail_second_page(ctx, plan, tiktok, fake)
    fake.hset(ctx.keys.meta(plan.id), "last_dead_at", time.time() - 40 * DAY)  # other windows go on
    fake.hset(ctx.keys.meta(plan.id), "last_call_at", time.time() - DAY)
    assert retention.sweep(fake, ctx.keys, ctx.settings).forgotten == []
    assert ctx.store.status(plan.id).state == "failed"


def test_the_sweep_unlists_harvests_whose_keys_expired(ctx, plan, make_plan, fake):
    other = make_plan(id="tiktok_query_other")
    fake.delete(*ctx.keys.harvest_keys(plan.id))  # as their expiry does
    assert retention.sweep(fake, ctx.keys, ctx.settings).unlisted == [plan.id]
    assert ctx.store.harvest_ids() == [other.id]


def test_the_sweep_gives_a_harvest_done_before_retention_existed_its_expiry_from_when_it_finished(
        ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    for key in harvest_keys(fake, ctx, plan.id):
        fake.persist(key)
    fake.hset(ctx.keys.meta(plan.id), "finished_at", time.time() - 10 * DAY)

    assert retention.sweep(fake, ctx.keys, ctx.settings).expired == [plan.id]
    left = expiries(fake, ctx, plan.id)
    assert 20 * DAY - 60 < left[ctx.keys.stats(plan.id)] <= 20 * DAY
    assert 0 < left[ctx.keys.owners(plan.id)] <= 1  # its day of grace is long over
    assert retention.sweep(fake, ctx.keys, ctx.settings).expired == []


# --- dead letters ------------------------------------------------------------------------------------


def test_dead_letters_older_than_the_limit_go_and_younger_ones_stay(ctx, fake):
    now = time.time()
    record(fake, ctx.keys, letter("gone_harvest", "old", now - 31 * DAY), keep_s=30 * DAY)
    record(fake, ctx.keys, letter(None, "old-intake", now - 31 * DAY), keep_s=30 * DAY)
    record(fake, ctx.keys, letter(None, "new-intake", now - DAY), keep_s=30 * DAY)
    record(fake, ctx.keys, letter("young_harvest", "new", now - DAY), keep_s=30 * DAY)
    assert prune(fake, ctx.keys, 30 * DAY, now) == 2
    assert sorted(item.message_id for item in list_dead(fake, ctx.keys)) == ["new", "new-intake"]


def test_a_harvests_dead_letters_go_together_after_the_newest(ctx, fake):
    now = time.time()
    for message_id, age in (("first", 40), ("last", 10)):
        record(fake, ctx.keys, letter("gone_harvest", message_id, now - age * DAY), keep_s=30 * DAY)
    assert prune(fake, ctx.keys, 30 * DAY, now) == 0
    assert prune(fake, ctx.keys, 30 * DAY, now + 21 * DAY) == 2


def test_a_registered_failed_harvest_keeps_its_dead_letters_as_long_as_itself(ctx, plan, fake):
    record(fake, ctx.keys, letter(plan.id, "m1", time.time() - 40 * DAY), keep_s=30 * DAY)
    assert prune(fake, ctx.keys, 30 * DAY) == 0
    assert [item.message_id for item in list_dead(fake, ctx.keys, plan.id)] == ["m1"]


def test_the_dead_letter_hash_expires_after_its_newest_letter(ctx, fake):
    record(fake, ctx.keys, letter(None, "m1", time.time()), keep_s=30 * DAY)
    assert 30 * DAY - 60 < fake.ttl(ctx.keys.dead_letters) <= 30 * DAY


def test_a_dead_letter_of_an_unregistered_harvest_makes_no_keys_of_it(ctx, fake):
    record(fake, ctx.keys, letter("ghost", "m1", time.time()), keep_s=30 * DAY)
    assert harvest_keys(fake, ctx, "ghost") == []
    assert [item.message_id for item in list_dead(fake, ctx.keys, "ghost")] == ["m1"]


def test_a_dead_letter_of_a_done_harvest_expires_with_it(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    fake.delete(ctx.keys.stats(plan.id))
    record(fake, ctx.keys, letter(plan.id, "late", time.time()), keep_s=30 * DAY)
    assert fake.hget(ctx.keys.stats(plan.id), "dead_letters") == b"1"
    assert fake.ttl(ctx.keys.stats(plan.id)) > DAY


def test_replaying_a_dead_letter_twice_counts_it_out_once(ctx, plan, fake, broker):
    for message_id in ("m1", "m2"):
        record(fake, ctx.keys, letter(plan.id, message_id, time.time()), keep_s=30 * DAY)
    first_letter = list_dead(fake, ctx.keys, plan.id)[0]
    replay(broker, fake, ctx.keys, first_letter)
    replay(broker, fake, ctx.keys, first_letter)
    assert ctx.store.status(plan.id).dead_letters == 1


# --- who sweeps -----------------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_fleet_sweeps_once_per_period_whichever_process_asks(ctx, fake):
    clock = Clock()
    one, two = retention.RetentionSweep(clock), retention.RetentionSweep(clock)
    assert isinstance(one.run_if_due(ctx), retention.Swept)
    assert two.run_if_due(ctx) is None  # the fleet's turn is taken
    assert one.run_if_due(ctx) is None  # asked again too soon
    clock.now += retention.CHECK_EVERY_S
    assert one.run_if_due(ctx) is None
    fake.delete(ctx.keys.retention_sweep)  # the period is over
    assert isinstance(two.run_if_due(ctx), retention.Swept)


def test_the_workers_sweeper_thread_runs_the_retention_sweep(global_context, plan, broker, fake):
    fake.delete(*global_context.keys.harvest_keys(plan.id))  # as their expiry does
    sweeper = FleetSweeper(interval_s=0.01)
    sweeper.after_worker_boot(broker, None)
    try:
        deadline = time.monotonic() + 5
        while global_context.store.harvest_ids() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sweeper.before_worker_shutdown(broker, None)
    assert global_context.store.harvest_ids() == []
    assert 0 < fake.ttl(global_context.keys.retention_sweep) <= retention.SWEEP_EVERY_S
