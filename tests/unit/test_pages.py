"""A page's journey (workers/pages.py handle_page) on fakeredis with a scripted TikTok:
files, exactly-once effects and follow-ups."""

import datetime as dt
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.api import VideoPage
from schemas.messages import PageTask, UserTask
from tests.unit.conftest import (
    WINDOW,
    files,
    page_body,
    page_tasks,
    queued,
    take,
    user_body,
    user_tasks,
    video,
)
from tests.unit.page_helpers import (
    END,
    P0,
    P1,
    P2,
    P3,
    START,
    bucket,
    first,
    record_ids,
    records,
    source,
    vid,
)
from workers.pages import handle_page, next_page
from workers.tiktok.errors import PermanentError
from workers.users import handle_user

# --- one page --------------------------------------------------------------------------------


def test_page_stores_raw_body_and_records_under_deterministic_names(ctx, plan, tiktok, fake):
    raw = page_body([video(3), video(2, "bob"), video(1)], cursor=100, has_more=True, search_id="S1")
    tiktok.add_video(START, END, None, raw)
    handle_page(ctx, first(plan), "m0", 0)

    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    data = ctx.settings.data_dir
    assert source(ctx, plan) == data / "source_records" / "TikTok" / plan.id / today
    assert records(ctx, plan) == data / "records" / "TikTok" / plan.id / "new" / today
    assert files(source(ctx, plan)) == {P0: raw}  # no temporary file left beside it
    assert list(files(records(ctx, plan))) == [P0]
    assert record_ids(ctx, plan, P0) == [vid(3), vid(2), vid(1)]
    assert ctx.store.is_done(plan.id, "page:20240101-20240131:00000")

    (request,) = tiktok.research_calls()
    assert request.headers["authorization"] == "Bearer clt.unit-token-1"
    assert json.loads(request.content) == {
        "query": msgspec.to_builtins(plan.query), "start_date": START, "end_date": END, "max_count": 100}
    status = ctx.store.status(plan.id)
    assert (status.state, status.pages, status.records, status.requests, status.errors) == ("running", 1, 3, 1, 0)


def test_big_search_id_is_carried_exactly(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=True, search_id=7354999999999999999))
    handle_page(ctx, first(plan), "m0", 0)
    (task,) = page_tasks(queued(fake, "pages"))
    assert task.search_id == "7354999999999999999"


def test_whole_chain_cursor_search_id_duplicates_users_and_done(ctx, plan, tiktok, fake):
    pages = {
        None: page_body([video(10), video(9, "bob"), video(8)], cursor=100, has_more=True, search_id="S1"),
        100: page_body([], cursor=200, has_more=True, search_id="S2"),  # empty, but more to come
        # video 8 again (it was on page 0) and video 7 twice on this page; no search_id this time
        200: page_body([video(8), video(7, "carol"), video(7, "carol")], cursor=300, has_more=True),
        300: page_body([video(6, "dave")], cursor=400, has_more=False, search_id="S3"),
    }
    for cursor, raw in pages.items():
        tiktok.add_video(START, END, cursor, raw)

    task, message_id, sent = first(plan), "m0", []
    while True:
        handle_page(ctx, task, message_id, 0)
        following = take(fake, "pages")
        if not following:
            break
        assert len(following) == 1
        message = following[0]
        assert message.queue_name == "pages" and message.actor_name == "fetch_page"
        task, message_id = page_tasks(following)[0], message.message_id
        sent.append(task)

    assert [(t.page, t.cursor, t.search_id) for t in sent] == [(1, 100, "S1"), (2, 200, "S2"), (3, 300, "S2")]
    assert [(b.get("cursor"), b.get("search_id")) for b in tiktok.bodies()] == [
        (None, None), (100, "S1"), (200, "S2"), (300, "S2")]
    assert files(source(ctx, plan)) == {P0: pages[None], P1: pages[100], P2: pages[200], P3: pages[300]}
    assert list(files(records(ctx, plan))) == [P0, P2, P3]  # the empty page has no records file
    assert record_ids(ctx, plan, P0) == [vid(10), vid(9), vid(8)]
    assert record_ids(ctx, plan, P2) == [vid(7)]
    assert record_ids(ctx, plan, P3) == [vid(6)]

    # authors: one UserTask each, on the users queue, alice only once
    users = queued(fake, "users")
    assert {m.actor_name for m in users} == {"fetch_user"}
    assert user_tasks(users) == [UserTask(plan.id, name) for name in ("alice", "bob", "carol", "dave")]

    status = ctx.store.status(plan.id)
    assert (status.windows_done, status.windows_total, status.pages, status.records) == (1, 1, 4, 5)
    assert (status.state, status.users_requested, status.finished_at) == ("running", 4, None)

    for message in take(fake, "users"):
        user_task = user_tasks([message])[0]
        tiktok.add_user(user_task.username, user_body())
        handle_user(ctx, user_task, message.message_id)
    status = ctx.store.status(plan.id)
    assert status.state == "done" and status.finished_at is not None
    assert (status.records, status.pages, status.users_done, status.requests) == (5, 4, 4, 8)


def test_videos_only_harvest_is_done_with_its_last_page(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(2), video(1, "bob")], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    assert queued(fake, "users") == [] and queued(fake, "pages") == []
    status = ctx.store.status(plan.id)
    assert (status.state, status.records, status.windows_done, status.users_requested) == ("done", 2, 1, 0)


def test_finishing_clears_leftovers_of_killed_writes_the_quota_share_and_claims(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    for folder in (ctx.storage.source_dir(plan), ctx.storage.records_dir(plan)):
        folder.mkdir(parents=True)
        (folder / ".tiktok_videos_20240101-20240131_p00000.json.0123abcd.tmp").write_bytes(b"[{")
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    assert ctx.store.status(plan.id).state == "done"
    assert list(files(ctx.storage.source_dir(plan))) == ["tiktok_videos_20240101-20240131_p00000.json"]
    assert list(files(ctx.storage.records_dir(plan))) == ["tiktok_videos_20240101-20240131_p00000.json"]
    assert fake.zscore(ctx.keys.quota_active(plan.credential), plan.id) is None
    assert 0 < fake.ttl(ctx.keys.owners(plan.id)) <= 86400 and 0 < fake.ttl(ctx.keys.fetched(plan.id)) <= 86400
    # the status stays for the retention (HARVEST_RETENTION_DAYS), longer than the claims
    assert 86400 < fake.ttl(ctx.keys.stats(plan.id)) <= ctx.settings.harvest_retention_days * 86400


def test_video_on_two_pages_is_stored_once_by_the_first_page(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(5), video(4)], cursor=100, has_more=True, search_id="S"))
    tiktok.add_video(START, END, 100, page_body([video(4), video(3)], cursor=200, has_more=False, search_id="S"))
    handle_page(ctx, first(plan), "m0", 0)
    (task,) = page_tasks(take(fake, "pages"))
    handle_page(ctx, task, "m1", 0)
    assert record_ids(ctx, plan, P0) == [vid(5), vid(4)]
    assert record_ids(ctx, plan, P1) == [vid(3)]
    assert ctx.store.status(plan.id).records == 3


# --- exactly-once effects -------------------------------------------------------------------------


def test_same_message_after_a_crash_makes_no_second_call_and_same_files(ctx, plan, tiktok, fake, monkeypatch):
    raw = page_body([video(3), video(2, "bob")], cursor=100, has_more=True, search_id="S1")
    tiktok.add_video(START, END, None, raw)  # one answer only: a second call would fail the test
    page_done = ctx.store.page_done

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed before marking the page done")

    monkeypatch.setattr(ctx.store, "page_done", killed)
    with pytest.raises(RuntimeError):
        handle_page(ctx, first(plan), "m0", 0)
    stored_raw, stored_records = files(source(ctx, plan)), files(records(ctx, plan))
    mtimes = {p.name: p.stat().st_mtime_ns for p in records(ctx, plan).iterdir()}
    assert list(stored_raw) == [P0] and list(stored_records) == [P0]
    lease = ctx.keys.lease(plan.id, first(plan).unit)
    assert fake.hget(lease, "owner") == b"m0"  # still owned by the dead attempt's message

    monkeypatch.setattr(ctx.store, "page_done", page_done)
    handle_page(ctx, first(plan), "m0", 1)  # Dramatiq hands the same message back

    assert len(tiktok.research_calls()) == 1
    assert files(source(ctx, plan)) == stored_raw
    assert files(records(ctx, plan)) == stored_records  # byte for byte, no temporary files
    assert {p.name: p.stat().st_mtime_ns for p in records(ctx, plan).iterdir()}.keys() == mtimes.keys()
    assert not fake.exists(lease)  # gone once the page is done
    status = ctx.store.status(plan.id)
    assert (status.pages, status.records, status.requests) == (1, 2, 1)
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (1, 2)
    assert user_tasks(queued(fake, "users")) == [UserTask(plan.id, "alice"), UserTask(plan.id, "bob")]
    # The next page was sent by both attempts; the copies are the same logical page ...
    nexts = take(fake, "pages")
    assert page_tasks(nexts) == [PageTask(plan.id, WINDOW, 1, 100, "S1")] * 2
    # ... and only one of them fetches it.
    tiktok.add_video(START, END, 100, page_body([], cursor=200, has_more=False))
    for message in nexts:
        handle_page(ctx, page_tasks([message])[0], message.message_id, 0)
    assert len(tiktok.research_calls()) == 2


def test_duplicate_message_while_the_lease_is_held_does_nothing(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    # The original's message owns the page (its delivery is over: a parked or retried message).
    begun = ctx.leases.begin(plan.id, first(plan).unit, WINDOW, "m-original")
    ctx.leases.end(begun.delivery, completed=False)
    handle_page(ctx, first(plan), "m-duplicate", 0)
    assert tiktok.calls == []
    assert files(source(ctx, plan)) == {} and files(records(ctx, plan)) == {}
    assert not ctx.store.is_done(plan.id, first(plan).unit)
    assert queued(fake, "pages") == [] and queued(fake, "users") == []
    handle_page(ctx, first(plan), "m-original", 0)  # the holder does the work
    assert len(tiktok.research_calls()) == 1 and ctx.store.is_done(plan.id, first(plan).unit)


def test_done_page_is_acknowledged_without_a_call(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    calls = len(tiktok.calls)
    before = files(records(ctx, plan))
    handle_page(ctx, first(plan), "m0", 0)
    handle_page(ctx, first(plan), "another-id", 0)
    assert len(tiktok.calls) == calls
    assert files(records(ctx, plan)) == before
    assert ctx.store.status(plan.id).pages == 1


def test_page_of_a_replaced_window_is_skipped(ctx, plan, tiktok, fake):
    fake.hset(ctx.keys.windows(plan.id), WINDOW, "split")
    handle_page(ctx, PageTask(plan.id, WINDOW, 4, 400, "S"), "m4", 0)
    assert tiktok.calls == [] and queued(fake, "pages") == []
    assert not ctx.store.is_done(plan.id, "page:20240101-20240131:00004")


def test_unknown_harvest_is_permanent(ctx, plan):
    with pytest.raises(PermanentError):
        handle_page(ctx, PageTask("no_such_harvest", WINDOW, 0), "m0", 0)


def test_page_redelivered_after_its_window_ended_is_still_counted(ctx, make_plan, tiktok, fake, monkeypatch):
    # Was a bug: handle_page checked the window's state before finishing an already-fetched page.
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(3), video(2)], cursor=100, has_more=True, search_id="S"))
    tiktok.add_video(START, END, 100, page_body([video(1)], cursor=200, has_more=False, search_id="S"))
    page_done = ctx.store.page_done
    monkeypatch.setattr(ctx.store, "page_done", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        handle_page(ctx, first(plan), "m0", 0)  # stored, next page sent, then killed
    monkeypatch.setattr(ctx.store, "page_done", page_done)
    (task,) = page_tasks(take(fake, "pages"))
    handle_page(ctx, task, "m1", 0)  # the last page ends the window
    handle_page(ctx, first(plan), "m0", 1)  # page 0 comes back after the worker's death
    status = ctx.store.status(plan.id)
    assert (status.pages, status.records) == (2, 3)
    assert ctx.store.is_done(plan.id, first(plan).unit)


# --- the next page --------------------------------------------------------------------------------


@pytest.mark.parametrize("answer_cursor, expected", [(100, 100), (None, 100), (0, 100), (250, 250)])
def test_next_page_cursor_moves_forward(ctx, plan, tiktok, fake, answer_cursor, expected):
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=answer_cursor, has_more=True, search_id="S"))
    handle_page(ctx, first(plan), "m0", 0)
    assert page_tasks(queued(fake, "pages")) == [PageTask(plan.id, WINDOW, 1, expected, "S")]


@given(st.integers(min_value=0, max_value=10**6), st.one_of(st.none(), st.integers(min_value=-10, max_value=10**6)),
       st.one_of(st.none(), st.text(min_size=1, max_size=5), st.integers(min_value=0, max_value=2**63)),
       st.sampled_from([None, "old"]))
def test_next_page_always_advances_and_keeps_the_newest_search_id(cursor, answer_cursor, answer_sid, task_sid):
    task = PageTask(harvest_id="h", window=WINDOW, page=3, cursor=cursor, search_id=task_sid)
    nxt = next_page(task, VideoPage(videos=[], cursor=answer_cursor, has_more=True, search_id=answer_sid), 100)
    assert nxt.cursor > cursor
    assert nxt.cursor == (answer_cursor if answer_cursor is not None and answer_cursor > cursor else cursor + 100)
    assert nxt.search_id == (str(answer_sid) if answer_sid is not None else task_sid)
    assert (nxt.harvest_id, nxt.window, nxt.page) == ("h", WINDOW, 4)


def test_a_video_without_a_usable_id_is_skipped_and_the_page_still_completes(ctx, make_plan, tiktok):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1), video(2, id=""), video(3)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    assert record_ids(ctx, plan, P0) == [vid(1), vid(3)]
    assert b'"id": ""' in (source(ctx, plan) / P0).read_bytes()  # the raw page keeps it
    status = ctx.store.status(plan.id)
    assert (status.state, status.records) == ("done", 2)
