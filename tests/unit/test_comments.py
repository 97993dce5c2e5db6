"""Comments (workers/comments.py): asked for per video with comments, a chain of pages per
video, each comment stored once as a Message pointing at its video and at the comment it
answers, cut short at the spec's limit or TikTok's cap and said so, and the harvest done only
once every video's comments are."""

import json

import pytest

from schemas.messages import CommentTask, PageTask
from tests.unit.conftest import (
    BIG,
    COMMENT_LIST,
    WINDOW,
    comment,
    comments_body,
    page_body,
    queued,
    take,
    video,
)
from tests.unit.page_helpers import END, START, first
from workers.comments import handle_comments
from workers.pages import handle_page


def comment_tasks(messages) -> list[CommentTask]:
    import msgspec

    return [msgspec.convert(m.args[0], CommentTask) for m in messages]


@pytest.fixture
def with_comments(make_plan):
    return make_plan(collect=["videos", "comments"])


def records(ctx, plan, name: str) -> list[dict]:
    return json.loads((ctx.storage.records_dir(plan) / name).read_bytes())


def test_comments_are_asked_for_videos_that_have_some(ctx, with_comments, tiktok, fake):
    plan = with_comments
    tiktok.add_video(START, END, None, page_body(
        [video(1, comment_count=0), video(2, comment_count=3), video(3, comment_count=250)],
        cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    tasks = comment_tasks(take(fake, "comments"))
    assert [(t.video_id, t.page, t.cursor, t.comment_count) for t in tasks] == [
        (str(BIG + 2), 0, 0, 3), (str(BIG + 3), 0, 0, 250)]  # video 1 says none: no request
    assert ctx.store.status(plan.id).endpoints["comment_list"].chains_total == 2
    assert ctx.store.status(plan.id).state != "done"  # the comments are still to come


def test_every_video_when_the_spec_asks_for_it(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos", "comments"], comments_of_every_video=True)
    tiktok.add_video(START, END, None, page_body([video(1, comment_count=0), video(2)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    assert [t.video_id for t in comment_tasks(take(fake, "comments"))] == [str(BIG + 1), str(BIG + 2)]


def test_a_videos_comments_are_paged_stored_once_and_end_the_harvest(ctx, with_comments, tiktok, fake):
    plan = with_comments
    tiktok.add_video(START, END, None, page_body([video(7, comment_count=3)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    (task,) = comment_tasks(take(fake, "comments"))
    tiktok.add_comments(BIG + 7, 0, comments_body([comment(1, 7), comment(2, 7, parent=1)], cursor=2, has_more=True))
    handle_comments(ctx, task, "c0", 0)
    (following,) = comment_tasks(take(fake, "comments"))
    assert (following.page, following.cursor) == (1, 2)
    # TikTok repeats comment 2 on the next page: stored once.
    tiktok.add_comments(BIG + 7, 2, comments_body([comment(2, 7, parent=1), comment(3, 7)], cursor=4,
                                                  has_more=False))
    handle_comments(ctx, following, "c1", 0)
    assert queued(fake, "comments") == []

    first_page = records(ctx, plan, f"tiktok_comments_{BIG + 7}_p00000.json")
    reply = first_page[1]
    assert reply["@type"] == "Message" and reply["@id"] == f"iCANDID_tiktok_comment_{BIG + 500_002}"
    assert [p["@id"] for p in reply["parentItem"]] == [f"iCANDID_tiktok_{BIG + 7}",
                                                       f"iCANDID_tiktok_comment_{BIG + 500_001}"]
    assert [p["@id"] for p in first_page[0]["parentItem"]] == [f"iCANDID_tiktok_{BIG + 7}"]
    assert [r["@id"] for r in records(ctx, plan, f"tiktok_comments_{BIG + 7}_p00001.json")] == [
        f"iCANDID_tiktok_comment_{BIG + 500_003}"]
    status = ctx.store.status(plan.id)
    assert status.state == "done" and status.comments == 3 and status.comments_cut == 0
    assert status.endpoints["comment_list"].requests == 2
    assert (status.endpoints["comment_list"].chains_done, status.endpoints["comment_list"].pages) == (1, 2)
    (request,) = [json.loads(c.content) for c in tiktok.research_calls(COMMENT_LIST)][:1]
    assert request == {"video_id": BIG + 7, "max_count": 100, "cursor": 0}  # exact above 2^53


def test_a_comment_page_handed_back_after_a_crash_is_not_paid_for_again(ctx, with_comments, tiktok, fake,
                                                                        monkeypatch):
    plan = with_comments
    task = CommentTask(plan.id, str(BIG + 7), comment_count=1)
    ctx.store.mark_chains_requested(plan.id, "comment_list", [task.video_id])
    tiktok.add_comments(BIG + 7, 0, comments_body([comment(1, 7)], cursor=1, has_more=False))
    done = ctx.store.chain_page_done
    monkeypatch.setattr(ctx.store, "chain_page_done", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        handle_comments(ctx, task, "c0", 0)
    monkeypatch.setattr(ctx.store, "chain_page_done", done)
    handle_comments(ctx, task, "c0", 1)
    assert len(tiktok.research_calls(COMMENT_LIST)) == 1
    assert ctx.store.status(plan.id).comments == 1


def test_the_specs_limit_stops_a_video_and_says_so(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos", "comments"], max_comments_per_video=120)
    task = CommentTask(plan.id, str(BIG + 7), comment_count=500)
    tiktok.add_comments(BIG + 7, 0, comments_body([comment(n, 7) for n in range(100)], cursor=100, has_more=True))
    tiktok.add_comments(BIG + 7, 100, comments_body([comment(n, 7) for n in range(100, 120)], cursor=120,
                                                    has_more=True))
    handle_comments(ctx, task, "c0", 0)
    (following,) = comment_tasks(take(fake, "comments"))
    handle_comments(ctx, following, "c1", 0)
    asked = [json.loads(c.content)["max_count"] for c in tiktok.research_calls(COMMENT_LIST)]
    assert asked == [100, 20] and queued(fake, "comments") == []
    assert fake.hgetall(ctx.keys.comments_cut(plan.id)) == {str(BIG + 7).encode(): b"spec_limit"}


def test_a_video_cut_at_tiktoks_cap_is_noted(ctx, with_comments, tiktok, fake):
    plan = with_comments
    task = CommentTask(plan.id, str(BIG + 7), page=9, cursor=900, comment_count=4000)
    tiktok.add_comments(BIG + 7, 900, comments_body([comment(n, 7) for n in range(900, 1000)], cursor=1000,
                                                    has_more=False))
    handle_comments(ctx, task, "c9", 0)
    assert fake.hgetall(ctx.keys.comments_cut(plan.id)) == {str(BIG + 7).encode(): b"tiktok_cap"}
    assert ctx.store.status(plan.id).comments_cut == 1


def test_an_answer_that_does_not_move_the_cursor_ends_the_chain(ctx, with_comments, tiktok, fake):
    plan = with_comments
    task = CommentTask(plan.id, str(BIG + 7), comment_count=10)
    tiktok.add_comments(BIG + 7, 0, comments_body([], cursor=0, has_more=True))
    handle_comments(ctx, task, "c0", 0)
    assert queued(fake, "comments") == []  # no loop on a confused answer


def test_comment_options_need_comments_in_collect(make_plan):
    from producers.refusal import SpecRefused

    with pytest.raises(SpecRefused) as refused:
        make_plan(max_comments_per_video=10)
    assert refused.value.field == "max_comments_per_video"


def test_a_spec_without_comments_sends_no_comment_task(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(1, comment_count=9)], cursor=100, has_more=False))
    handle_page(ctx, PageTask(plan.id, WINDOW, 0), "m0", 0)
    assert queued(fake, "comments") == [] and "comment_list" not in ctx.store.status(plan.id).endpoints
