"""The videos an account liked, pinned or reposted (workers/account_videos.py): asked for the
spec's accounts at submission, each video stored once (the same record a search would
write), each act once as a LikeAction, ChooseAction or ShareAction, hidden likes recorded as
an outcome, and the harvest done only once every list is."""

import json

import httpx
import msgspec
import pytest

from producers.refusal import SpecRefused
from producers.submission import start
from schemas.messages import AccountVideosTask
from tests.unit.conftest import BIG, account_videos_body, error_body, page_body, take, video
from tests.unit.page_helpers import END, START, first
from workers.account_videos import handle_account_videos
from workers.pages import handle_page


def list_tasks(messages) -> list[AccountVideosTask]:
    return [msgspec.convert(m.args[0], AccountVideosTask) for m in messages]


def records(ctx, plan, name: str) -> list[dict]:
    return json.loads((ctx.storage.records_dir(plan) / name).read_bytes())


@pytest.fixture
def lists(ctx, make_plan, settings):
    plan = make_plan(collect=["videos", "liked_videos", "pinned_videos", "reposted_videos"], accounts=["alice"],
                     keywords=[])
    start(plan, settings, ctx.broker, redis=ctx.redis)
    return plan


def test_each_list_of_the_specs_accounts_is_asked_for_at_submission(ctx, lists, fake):
    tasks = list_tasks(take(fake, "lists"))
    assert sorted((t.which, t.username, t.page) for t in tasks) == [
        ("liked", "alice", 0), ("pinned", "alice", 0), ("reposted", "alice", 0)]
    assert ctx.store.status(lists.id).endpoints["user_liked_videos"].chains_total == 1


def test_liked_videos_page_back_in_time_and_store_each_video_and_like_once(ctx, lists, tiktok, fake):
    liked = {t.which: t for t in list_tasks(take(fake, "lists"))}["liked"]
    tiktok.add_account_videos("liked", "alice", None, account_videos_body(
        "user_liked_videos", [video(1), video(2)], cursor=1700000000999, has_more=True))
    handle_account_videos(ctx, liked, "l0", 0)
    (following,) = list_tasks(take(fake, "lists"))
    assert (following.page, following.cursor) == (1, 1700000000999)
    tiktok.add_account_videos("liked", "alice", 1700000000999, account_videos_body(
        "user_liked_videos", [video(2), video(3)], cursor=1699999000000, has_more=False))
    handle_account_videos(ctx, following, "l1", 0)
    assert take(fake, "lists") == []

    first_page = records(ctx, lists, "tiktok_liked_alice_p00000.json")
    assert [r["@type"] for r in first_page] == ["Message", "LikeAction", "Message", "LikeAction"]
    like = first_page[1]
    assert like["@id"] == f"iCANDID_tiktok_like_alice~{BIG + 1}"
    assert (like["agent"]["@id"], like["object"]["@id"]) == ("iCANDID_tiktok_user_alice", f"iCANDID_tiktok_{BIG + 1}")
    second_page = records(ctx, lists, "tiktok_liked_alice_p00001.json")
    assert [r["@id"] for r in second_page] == [f"iCANDID_tiktok_{BIG + 3}", f"iCANDID_tiktok_like_alice~{BIG + 3}"]
    status = ctx.store.status(lists.id).endpoints["user_liked_videos"]
    assert (status.records, status.pages, status.chains_done) == (3, 2, 1)


def test_a_video_a_search_already_stored_is_not_written_again(ctx, lists, tiktok, fake):
    tasks = {t.which: t for t in list_tasks(take(fake, "lists"))}
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(lists), "m0", 0)
    tiktok.add_account_videos("pinned", "alice", None, account_videos_body("pinned_videos_list", [video(1)]))
    handle_account_videos(ctx, tasks["pinned"], "p0", 0)
    pins = records(ctx, lists, "tiktok_pinned_alice_p00000.json")
    assert [r["@type"] for r in pins] == ["ChooseAction"]  # the video's record is the search page's
    assert json.loads(tiktok.research_calls("/v2/research/user/pinned_videos/")[0].content) == {"username": "alice"}


@pytest.mark.parametrize("name", ["user_reposted_videos", "reposted_videos"])
def test_reposts_are_read_under_either_name_tiktok_uses(ctx, lists, tiktok, fake, name):
    reposted = {t.which: t for t in list_tasks(take(fake, "lists"))}["reposted"]
    tiktok.add_account_videos("reposted", "alice", None, account_videos_body(name, [video(4)], cursor=100,
                                                                             has_more=False))
    handle_account_videos(ctx, reposted, "r0", 0)
    assert [r["@type"] for r in records(ctx, lists, "tiktok_reposted_alice_p00000.json")] == ["Message", "ShareAction"]


def test_hidden_likes_are_an_answer_recorded_not_an_error(ctx, lists, tiktok, fake):
    liked = {t.which: t for t in list_tasks(take(fake, "lists"))}["liked"]
    tiktok.add_account_videos("liked", "alice", None, httpx.Response(400, content=error_body(
        "invalid_params", "The user's liked videos information cannot be returned")))
    handle_account_videos(ctx, liked, "l0", 0)
    assert fake.hgetall(ctx.keys.list_outcomes(lists.id)) == {b"user_liked_videos:alice": b"restricted"}
    assert ctx.store.status(lists.id).endpoints["user_liked_videos"].chains_done == 1


def test_video_lists_need_accounts(make_plan):
    with pytest.raises(SpecRefused) as refused:
        make_plan(collect=["videos", "liked_videos"], accounts=[])
    assert refused.value.field == "collect"
