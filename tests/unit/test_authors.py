"""Authors expanded in the video records once every profile is in (workers/authors.py)."""

import json

import httpx
import msgspec

from schemas.messages import UserTask
from tests.unit.conftest import BIG, error_body, page_body, take, user_body, video
from tests.unit.page_helpers import END, START, first
from workers.authors import expand_authors
from workers.pages import handle_page
from workers.users import handle_user

PAGE = "tiktok_videos_20240101-20240131_p00000.json"


def video_records(ctx, plan) -> dict[int, dict]:
    """The page's records by video number (see conftest.video)."""
    records = json.loads((ctx.storage.records_dir(plan) / PAGE).read_bytes())
    return {int(r["@id"].rsplit("_", 1)[1]) - BIG: r for r in records}


def answer_users(ctx, fake) -> None:
    for message in take(fake, "users"):
        handle_user(ctx, msgspec.convert(message.args[0], UserTask), message.message_id)


def harvest_one_page(ctx, plan, tiktok, fake) -> None:
    tiktok.add_video(START, END, None, page_body([video(1, "alice"), video(2, "bob"), video(3, "alice")],
                                                 cursor=100, has_more=False))
    tiktok.add_user("alice", user_body(display_name="Alice A.", follower_count=1200, is_verified=True))
    tiktok.add_user("bob", httpx.Response(400, content=error_body("invalid_params", "User bob is private")))
    handle_page(ctx, first(plan), "m0", 0)


def test_records_name_the_author_until_every_profile_is_in_then_expand_it(ctx, plan, tiktok, fake):
    harvest_one_page(ctx, plan, tiktok, fake)
    early = video_records(ctx, plan)[1]
    assert early["author"] == {"@type": "Person", "@id": "iCANDID_tiktok_user_alice", "alternateName": "alice",
                               "url": "https://www.tiktok.com/@alice"}
    assert ctx.store.status(plan.id).state == "running"

    answer_users(ctx, fake)
    assert ctx.store.status(plan.id).state == "done"
    records = video_records(ctx, plan)
    alice = records[1]["author"]
    assert alice["@id"] == "iCANDID_tiktok_user_alice" and alice["name"] == "Alice A."
    assert alice["description"] == "klimaat!" and alice["image"] == "https://x.test/a.jpg"
    assert {"@type": "PropertyValue", "name": "verified", "value": True} in alice["additionalProperty"]
    assert {c["interactionType"]: c["userInteractionCount"] for c in alice["interactionStatistic"]} == {
        "https://schema.org/FollowAction": 1200, "https://schema.org/LikeAction": 40}
    assert "@context" not in alice and "isBasedOn" not in alice  # a node, not a record
    assert records[1]["creator"] == records[1]["sender"] == alice
    assert records[3]["author"] == alice
    # What TikTok would not show is said so: bob's account is private.
    bob = records[2]["author"]
    assert "name" not in bob
    assert {"@type": "PropertyValue", "name": "tiktok_account_status", "value": "private"} in bob["additionalProperty"]
    # Everything else in the record is as it was written with the page.
    early_rest = {k: v for k, v in early.items() if k not in ("author", "creator", "sender")}
    assert {k: v for k, v in records[1].items() if k not in ("author", "creator", "sender")} == early_rest


def test_expanding_again_writes_nothing(ctx, plan, tiktok, fake):
    harvest_one_page(ctx, plan, tiktok, fake)
    answer_users(ctx, fake)
    path = ctx.storage.records_dir(plan) / PAGE
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    assert expand_authors(ctx.storage, plan) == 0
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_a_videos_only_harvest_keeps_author_references(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1, "alice")], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    assert ctx.store.status(plan.id).state == "done"
    author = video_records(ctx, plan)[1]["author"]
    assert set(author) == {"@type", "@id", "alternateName", "url"}
