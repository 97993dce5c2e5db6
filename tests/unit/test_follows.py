"""Follower lists (workers/follows.py): asked for the spec's accounts at submission, one
chain per account and direction on a budget of its own, each relation stored once as a
FollowAction, private accounts recorded as such, the spec's limit kept, and the harvest done
only once every list is."""

import json

import msgspec
import pytest

from producers.refusal import SpecRefused
from producers.submission import start
from schemas.messages import FollowTask
from tests.unit.conftest import (
    FOLLOWERS,
    FOLLOWING,
    error_body,
    follows_body,
    page_body,
    take,
    video,
)
from tests.unit.page_helpers import END, START, first
from workers.follows import handle_follows
from workers.pages import handle_page


def follow_tasks(messages) -> list[FollowTask]:
    return [msgspec.convert(m.args[0], FollowTask) for m in messages]


@pytest.fixture
def followed(ctx, make_plan, settings):
    plan = make_plan(collect=["videos", "followers"], accounts=["@Alice"], keywords=[])
    start(plan, settings, ctx.broker, redis=ctx.redis)
    return plan


def records(ctx, plan, name: str) -> list[dict]:
    return json.loads((ctx.storage.records_dir(plan) / name).read_bytes())


def test_the_specs_accounts_lists_are_asked_for_at_submission_before_any_page(ctx, followed, fake):
    (task,) = follow_tasks(take(fake, "lists"))
    assert (task.username, task.direction, task.page, task.cursor) == ("alice", "followers", 0, None)
    status = ctx.store.status(followed.id)
    assert status.endpoints["user_followers"].chains_total == 1 and "user_following" not in status.endpoints


def test_a_list_is_paged_by_time_stored_once_per_relation_and_ends_the_harvest(ctx, followed, tiktok, fake):
    (task,) = follow_tasks(take(fake, "lists"))
    tiktok.add_follows("followers", "alice", None, follows_body("followers", ["bob", "carol"], cursor=1700000500,
                                                                has_more=True))
    handle_follows(ctx, task, "f0", 0)
    (following,) = follow_tasks(take(fake, "lists"))
    assert (following.page, following.cursor, following.listed) == (1, 1700000500, 2)
    # carol again (a tie on the time cursor): one relation, one record.
    tiktok.add_follows("followers", "alice", 1700000500, follows_body("followers", ["carol", "dave"], cursor=1699999000,
                                                                      has_more=False))
    handle_follows(ctx, following, "f1", 0)
    assert take(fake, "lists") == []

    (bob, carol) = records(ctx, followed, "tiktok_followers_alice_p00000.json")
    assert bob["@type"] == "FollowAction" and bob["@id"] == "iCANDID_tiktok_follow_bob~alice"
    assert (bob["agent"]["alternateName"], bob["agent"]["name"], bob["object"]["@id"]) == (
        "bob", "Bob", "iCANDID_tiktok_user_alice")
    second_page = records(ctx, followed, "tiktok_followers_alice_p00001.json")
    assert [r["agent"]["alternateName"] for r in second_page] == ["dave"]

    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(followed), "m0", 0)
    status = ctx.store.status(followed.id)
    assert status.state == "done"
    followers = status.endpoints["user_followers"]
    assert (followers.records, followers.pages, followers.chains_done, followers.requests) == (3, 2, 1, 2)
    # The lists spend their own budget, not the research requests'.
    assert ctx.quota.peek("climate-key#follows").requests_used == 2
    assert ctx.quota.peek("climate-key").requests_used == 1


def test_a_private_account_is_an_answer_recorded_not_an_error(ctx, followed, tiktok, fake):
    (task,) = follow_tasks(take(fake, "lists"))
    from httpx import Response

    tiktok.add_follows("followers", "alice", None, Response(400, content=error_body("invalid_params",
                                                                                   "The user alice is private")))
    handle_follows(ctx, task, "f0", 0)
    assert take(fake, "lists") == []
    assert fake.hgetall(ctx.keys.list_outcomes(followed.id)) == {b"user_followers:alice": b"private"}
    assert (ctx.storage.source_dir(followed) / "tiktok_followers_alice_p00000.json").exists()
    assert ctx.store.status(followed.id).endpoints["user_followers"].chains_done == 1


def test_the_specs_limit_stops_a_list(ctx, make_plan, settings, tiktok, fake):
    plan = make_plan(collect=["videos", "following"], accounts=["alice"], keywords=[], max_follows_per_account=2)
    start(plan, settings, ctx.broker, redis=ctx.redis)
    (task,) = follow_tasks(take(fake, "lists"))
    tiktok.add_follows("following", "alice", None, follows_body("following", ["bob", "carol"], cursor=1700000000,
                                                                has_more=True))
    handle_follows(ctx, task, "f0", 0)
    assert take(fake, "lists") == []  # two listed: the limit
    assert json.loads(tiktok.research_calls(FOLLOWING)[0].content)["max_count"] == 2
    assert records(ctx, plan, "tiktok_following_alice_p00000.json")[0]["@id"] == "iCANDID_tiktok_follow_alice~bob"


def test_a_relation_met_in_both_directions_is_one_record(ctx, make_plan, settings, tiktok, fake):
    plan = make_plan(collect=["videos", "followers", "following"], accounts=["alice", "bob"], keywords=[])
    start(plan, settings, ctx.broker, redis=ctx.redis)
    tasks = {(t.direction, t.username): t for t in follow_tasks(take(fake, "lists"))}
    assert set(tasks) == {("followers", "alice"), ("followers", "bob"), ("following", "alice"), ("following", "bob")}
    tiktok.add_follows("followers", "alice", None, follows_body("followers", ["bob"], cursor=1, has_more=False))
    tiktok.add_follows("following", "bob", None, follows_body("following", ["alice"], cursor=1, has_more=False))
    handle_follows(ctx, tasks[("followers", "alice")], "f0", 0)
    handle_follows(ctx, tasks[("following", "bob")], "f1", 0)
    assert ctx.store.status(plan.id).endpoints["user_followers"].records == 1
    assert ctx.store.status(plan.id).endpoints["user_following"].records == 0  # bob follows alice: known already
    assert len(tiktok.research_calls(FOLLOWERS)) == 1


def test_every_authors_lists_when_the_spec_asks(ctx, make_plan, settings, tiktok, fake):
    plan = make_plan(collect=["videos", "followers"], follows_of_every_author=True)
    start(plan, settings, ctx.broker, redis=ctx.redis)
    assert take(fake, "lists") != []  # the spec's own account, alice
    tiktok.add_video(START, END, None, page_body([video(1, username="zoe"), video(2, username="alice")],
                                                 cursor=100, has_more=False))
    (page,) = [m for m in take(fake, "pages")]
    handle_page(ctx, msgspec.convert(page.args[0], type(first(plan))), page.message_id, 0)
    assert [t.username for t in follow_tasks(take(fake, "lists"))] == ["zoe"]  # alice was asked for already


def test_follower_lists_need_accounts(make_plan):
    with pytest.raises(SpecRefused) as refused:
        make_plan(collect=["videos", "followers"], accounts=[])
    assert refused.value.field == "collect"
    with pytest.raises(SpecRefused) as refused:
        make_plan(max_follows_per_account=5)
    assert refused.value.field == "max_follows_per_account"
