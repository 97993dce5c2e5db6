"""Profiles reused across a project's harvests (workers/profiles.py): a second harvest that
needs an account fetched lately by another stores that answer instead of paying for a call,
and its records are as complete; other projects, stale answers and a freshness of 0 call."""

import dataclasses
import json
import os

from schemas.messages import UserTask
from tests.unit.conftest import USER_INFO, user_body
from workers.context import build_context
from workers.users import handle_user


def second_harvest(make_plan, harvest_id: str = "tiktok_query_unit02", **spec):
    return make_plan(id=harvest_id, **spec)


def ask(ctx, plan, username: str = "alice") -> None:
    ctx.store.mark_users_requested(plan.id, [username])
    handle_user(ctx, UserTask(harvest_id=plan.id, username=username), f"u-{plan.id}")


def test_a_second_harvest_reuses_a_fresh_profile_without_a_call(ctx, plan, make_plan, tiktok):
    raw = user_body(display_name="Alice A.", follower_count=1200)
    tiktok.add_user("alice", raw)
    ask(ctx, plan)
    first_file = ctx.storage.source_dir(plan) / "tiktok_user_alice.json"
    os.utime(first_file, (1_700_000_000, 1_700_000_000))  # downloaded a while ago (same day in spirit)
    ctx.redis.hset(ctx.keys.profile("climate", "alice"), "at", "1700000000.000")

    other = second_harvest(make_plan)
    ask(ctx, other)
    assert len(tiktok.research_calls(USER_INFO)) == 1  # no second call
    copy = ctx.storage.source_dir(other) / "tiktok_user_alice.json"
    assert copy.read_bytes() == raw and int(copy.stat().st_mtime) == 1_700_000_000
    (record,) = json.loads((ctx.storage.records_dir(other) / "tiktok_user_alice.json").read_bytes())
    assert record["name"] == "Alice A."
    # The counts say when they were true: when the answer was downloaded, not now.
    assert {c["endTime"] for c in record["interactionStatistic"]} == {"2023-11-14T22:13:20Z"}
    status = ctx.store.status(other.id)
    assert (status.users_done, status.requests) == (1, 0)
    assert ctx.quota.peek(plan.credential).requests_used == 1


def test_a_profile_is_not_reused_by_another_project(ctx, plan, make_plan, tiktok, settings, credentials_file):
    tiktok.add_user("alice", user_body(), user_body())
    ask(ctx, plan)
    with open(credentials_file, "a") as file:
        file.write(credentials_file.read_text().replace("[credentials.climate-key]", "[credentials.media-key]")
                   .replace('project = "climate"', 'project = "media"'))
    other = second_harvest(make_plan, project="media")
    ask(ctx, other)
    assert len(tiktok.research_calls(USER_INFO)) == 2


def test_a_stale_profile_is_fetched_again(ctx, plan, make_plan, tiktok):
    tiktok.add_user("alice", user_body(), user_body())
    ask(ctx, plan)
    ctx.redis.delete(ctx.keys.profile("climate", "alice"))  # its freshness ran out (the key expired)
    ask(ctx, second_harvest(make_plan))
    assert len(tiktok.research_calls(USER_INFO)) == 2


def test_a_kept_profile_expires_after_the_freshness(ctx, plan, tiktok):
    tiktok.add_user("alice", user_body())
    ask(ctx, plan)
    assert 23 * 3600 < ctx.redis.ttl(ctx.keys.profile("climate", "alice")) <= 24 * 3600


def test_no_reuse_when_the_freshness_is_zero(settings, broker, fake, tiktok, ctx, plan, make_plan):
    import httpx

    from tests.unit.conftest import BASE_URL

    no_reuse = build_context(dataclasses.replace(settings, profile_freshness_hours=0), broker, redis=fake,
                             http=httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(tiktok)))
    tiktok.add_user("alice", user_body(), user_body())
    ask(no_reuse, plan)
    assert not fake.exists(ctx.keys.profile("climate", "alice"))
    ask(no_reuse, second_harvest(make_plan))
    assert len(tiktok.research_calls(USER_INFO)) == 2
