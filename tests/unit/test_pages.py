"""A page's journey (workers/pages.py handle_page) on fakeredis with a scripted TikTok:
files, exactly-once effects, follow-ups, window splits and restarts, quota."""

import datetime as dt
import json
import time

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.api import VideoPage
from schemas.messages import PageTask, UserTask
from workers.errors import PermanentError, QuotaWait, SearchExpired, ServerSideError, TokenInvalid, TransientError
from workers.pages import handle_page, next_page
from workers.quota import RESET_MARGIN_S, QuotaBucket
from workers.users import handle_user

from tests.unit.conftest import (
    BIG,
    CREDENTIAL,
    WINDOW,
    bucket_day,
    error_body,
    files,
    page_body,
    page_tasks,
    queued,
    seconds_to_midnight,
    take,
    user_body,
    user_tasks,
    video,
)

START, END = "20240101", "20240131"
P0 = f"tiktok_videos_{WINDOW}_p00000.json"
P1 = f"tiktok_videos_{WINDOW}_p00001.json"
P2 = f"tiktok_videos_{WINDOW}_p00002.json"
P3 = f"tiktok_videos_{WINDOW}_p00003.json"


def first(plan, window=WINDOW) -> PageTask:
    return PageTask(harvest_id=plan.id, window=window, page=0)


def source(ctx, plan):
    return ctx.storage.source_dir(plan)


def records(ctx, plan):
    return ctx.storage.records_dir(plan)


def record_ids(ctx, plan, name) -> list[str]:
    return [record["@id"] for record in json.loads((records(ctx, plan) / name).read_bytes())]


def vid(n: int) -> str:
    return f"iCANDID_tiktok_{BIG + n}"


def bucket(ctx, plan):
    return ctx.quota.peek(plan.credential, ctx.credentials.get(plan.credential))


def exhaust_bucket(ctx, plan):
    limits = ctx.credentials.get(plan.credential)
    while ctx.quota.take(plan.credential, limits, "someone-else", 1).granted:
        pass


def response(status: int, content: bytes, **headers) -> httpx.Response:
    return httpx.Response(status, content=content, headers=headers)


# --- one page --------------------------------------------------------------------------------


def test_page_stores_raw_body_and_records_under_deterministic_names(ctx, plan, tiktok, fake):
    raw = page_body([video(3), video(2, "bob"), video(1)], cursor=100, has_more=True, search_id="S1")
    tiktok.add_video(START, END, None, raw)
    handle_page(ctx, first(plan), "m0", 0)

    today = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
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
        task = user_tasks([message])[0]
        tiktok.add_user(task.username, user_body())
        handle_user(ctx, task, message.message_id)
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
    assert fake.get(lease) == b"m0"  # still held by the dead attempt's message

    monkeypatch.setattr(ctx.store, "page_done", page_done)
    handle_page(ctx, first(plan), "m0", 1)  # Dramatiq hands the same message back

    assert len(tiktok.research_calls()) == 1
    assert files(source(ctx, plan)) == stored_raw
    assert files(records(ctx, plan)) == stored_records  # byte for byte, no temporary files
    assert {p.name: p.stat().st_mtime_ns for p in records(ctx, plan).iterdir()}.keys() == mtimes.keys()
    assert fake.get(lease) is None  # released once the page is done
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
    assert ctx.store.take_lease(plan.id, first(plan).unit, "m-original")  # in flight elsewhere
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
    ctx.store.close_window(plan.id, WINDOW, "split")
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


# --- failing windows: split, restart ----------------------------------------------------------------

SERVER_FAILURES = {
    "500": lambda: response(500, error_body("internal_error", "Something went wrong")),
    "504-html": lambda: response(504, b"<html><body>504 Gateway Time-out</body></html>", **{"Content-Type": "text/html"}),
    "timeout": lambda: httpx.ReadTimeout("timed out"),
}


@pytest.mark.parametrize("failure", list(SERVER_FAILURES))
def test_server_side_failure_after_three_retries_splits_the_window(ctx, plan, tiktok, fake, failure):
    tiktok.add_video(START, END, None, SERVER_FAILURES[failure]())
    handle_page(ctx, first(plan), "m0", 3)  # returns: this chain ended, the halves take over
    newer, older = "20240117-20240131", "20240101-20240116"
    assert ctx.store.window_state(plan.id, WINDOW) == "split"
    assert ctx.store.window_state(plan.id, newer) == "open"
    assert ctx.store.window_state(plan.id, older) == "open"
    assert page_tasks(queued(fake, "pages")) == [PageTask(plan.id, newer, 0), PageTask(plan.id, older, 0)]
    status = ctx.store.status(plan.id)
    assert (status.windows_total, status.windows_done, status.errors, status.requests) == (2, 0, 1, 1)
    assert files(source(ctx, plan)) == {}
    # the halves are fetched with their own dates
    tiktok.add_video("20240117", "20240131", None, page_body([video(1)], cursor=100, has_more=False))
    (message, _) = take(fake, "pages")
    handle_page(ctx, page_tasks([message])[0], message.message_id, 0)
    assert tiktok.bodies()[-1]["start_date"] == "20240117" and tiktok.bodies()[-1]["end_date"] == "20240131"
    assert list(files(records(ctx, plan))) == ["tiktok_videos_20240117-20240131_p00000.json"]


def test_split_mid_chain_restarts_halves_from_their_first_page(ctx, plan, tiktok, fake):
    task = PageTask(plan.id, WINDOW, 2, 200, "S")
    tiktok.add_video(START, END, 200, response(500, error_body("internal_error")))
    handle_page(ctx, task, "m2", 4)
    assert page_tasks(queued(fake, "pages")) == [PageTask(plan.id, "20240117-20240131", 0),
                                                 PageTask(plan.id, "20240101-20240116", 0)]


def test_server_side_failure_before_three_retries_is_raised(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, response(500, error_body("internal_error")))
    with pytest.raises(ServerSideError):
        handle_page(ctx, first(plan), "m0", 2)
    assert ctx.store.window_state(plan.id, WINDOW) == "open"
    assert queued(fake, "pages") == []
    assert ctx.store.status(plan.id).errors == 1


def test_single_day_window_is_not_split(ctx, make_plan, tiktok, fake):
    plan = make_plan(period="20240105-20240105")
    assert plan.windows == ["20240105-20240105"]
    tiktok.add_video("20240105", "20240105", None, response(500, error_body("internal_error")))
    with pytest.raises(ServerSideError):
        handle_page(ctx, first(plan, "20240105-20240105"), "m0", 7)
    assert ctx.store.window_state(plan.id, "20240105-20240105") == "open"
    assert queued(fake, "pages") == []
    assert fake.hgetall(ctx.keys.windows(plan.id)) == {b"20240105-20240105": b"open"}


def test_undecodable_200_is_retried_never_split_never_stored(ctx, plan, tiktok, fake):
    full = page_body([video(2), video(1)], cursor=100, has_more=True)
    tiktok.add_video(START, END, None, full[:40])
    with pytest.raises(TransientError) as caught:
        handle_page(ctx, first(plan), "m0", 5)
    assert not caught.value.server_side
    assert ctx.store.window_state(plan.id, WINDOW) == "open" and queued(fake, "pages") == []
    assert files(source(ctx, plan)) == {} and not ctx.store.is_fetched(plan.id, first(plan).unit)
    # the next attempt calls again and stores the good page
    tiktok.add_video(START, END, None, full)
    handle_page(ctx, first(plan), "m0", 6)
    assert files(source(ctx, plan)) == {P0: full}


@pytest.mark.parametrize("failure", [response(503, b"<html>unavailable</html>"), httpx.ReadTimeout("slow")],
                         ids=["503", "timeout"])
def test_token_endpoint_failure_does_not_split_the_window(ctx, plan, tiktok, fake, failure):
    # Was a bug: the OAuth endpoint's ServerSideError reached replace_failing_window and split the
    # window; request_token now turns it into a plain TransientError.
    tiktok.tokens.append(failure)
    with pytest.raises(TransientError) as caught:
        handle_page(ctx, first(plan), "m0", 3)
    assert caught.value.server_side is False
    assert ctx.store.window_state(plan.id, WINDOW) == "open"
    assert queued(fake, "pages") == []
    assert tiktok.research_calls() == []
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (0, 0)  # the call never went out: all given back
    assert ctx.store.status(plan.id).requests == 0


@pytest.mark.parametrize("message", ["Search Id 7354 is invalid or expired", "Invalid count or cursor"])
def test_search_expired_after_three_retries_restarts_the_window(ctx, plan, tiktok, fake, message):
    tiktok.add_video(START, END, 300, response(400, error_body("invalid_params", message)))
    handle_page(ctx, PageTask(plan.id, WINDOW, 3, 300, "S-old"), "m3", 3)
    restarted = f"{WINDOW}.r1"
    assert ctx.store.window_state(plan.id, WINDOW) == "restarted"
    assert ctx.store.window_state(plan.id, restarted) == "open"
    assert page_tasks(take(fake, "pages")) == [PageTask(plan.id, restarted, 0)]
    assert ctx.store.status(plan.id).windows_total == 1
    # the restarted search: same dates, no cursor, no search id; files named after the new window
    raw = page_body([video(1)], cursor=100, has_more=False)
    tiktok.add_video(START, END, None, raw)
    handle_page(ctx, PageTask(plan.id, restarted, 0), "r0", 0)
    assert tiktok.bodies()[-1] == {"query": msgspec.to_builtins(plan.query), "start_date": START,
                                   "end_date": END, "max_count": 100}
    assert files(source(ctx, plan)) == {f"tiktok_videos_{restarted}_p00000.json": raw}
    assert ctx.store.status(plan.id).windows_done == 1


def test_search_expired_before_three_retries_is_raised(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, 100, response(400, error_body("invalid_params", "Search Id 1 is invalid or expired")))
    with pytest.raises(SearchExpired):
        handle_page(ctx, PageTask(plan.id, WINDOW, 1, 100, "S"), "m1", 2)
    assert ctx.store.window_state(plan.id, WINDOW) == "open" and queued(fake, "pages") == []


def test_search_expired_is_never_split_and_stops_restarting_after_five(ctx, plan, tiktok, fake):
    window = f"{WINDOW}.r5"
    ctx.store.open_windows(plan.id, [window])
    tiktok.add_video(START, END, 100, response(400, error_body("invalid_params", "Invalid count or cursor")))
    with pytest.raises(SearchExpired):
        handle_page(ctx, PageTask(plan.id, window, 1, 100, "S"), "m1", 6)
    assert ctx.store.window_state(plan.id, window) == "open" and queued(fake, "pages") == []


def test_permanent_error_is_raised_and_counted(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, response(400, error_body("invalid_params", "Invalid field: bogus")))
    with pytest.raises(PermanentError):
        handle_page(ctx, first(plan), "m0", 0)
    status = ctx.store.status(plan.id)
    assert (status.errors, status.requests, status.pages) == (1, 1, 0)
    assert files(source(ctx, plan)) == {}


def test_invalid_token_is_replaced_and_the_call_resent_once(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, response(401, error_body("access_token_invalid", "expired")),
                     page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    calls = tiktok.research_calls()
    assert [c.headers["authorization"] for c in calls] == ["Bearer clt.unit-token-1", "Bearer clt.unit-token-2"]
    assert len(tiktok.token_calls()) == 2
    assert ctx.store.is_done(plan.id, first(plan).unit)
    assert bucket(ctx, plan).requests_used == 2  # the resend is paid for too
    assert bucket(ctx, plan).records_used == 1


def test_invalid_token_twice_is_raised(ctx, plan, tiktok, fake):
    answer = response(401, error_body("access_token_invalid", "expired"))
    tiktok.add_video(START, END, None, answer, answer)
    with pytest.raises(TokenInvalid):
        handle_page(ctx, first(plan), "m0", 0)
    assert len(tiktok.research_calls()) == 2 and ctx.store.status(plan.id).errors == 1


# --- quota ---------------------------------------------------------------------------------------


@pytest.mark.limits(daily_requests=3)
def test_empty_bucket_waits_before_any_research_call(ctx, plan, tiktok, fake):
    ctx.tokens.get(plan.credential, ctx.credentials.get(plan.credential))  # the fleet already has a token
    exhaust_bucket(ctx, plan)
    calls = len(tiktok.calls)
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, first(plan), "m0", 0)
    assert len(tiktok.calls) == calls  # no HTTP call at all
    assert abs(caught.value.wait_s - seconds_to_midnight(ctx.settings.quota_clock_offset_s)) < 5
    assert files(source(ctx, plan)) == {} and queued(fake, "pages") == []
    assert not ctx.store.is_done(plan.id, first(plan).unit)
    status = ctx.store.status(plan.id)
    assert (status.requests, status.errors) == (0, 0)


@pytest.mark.limits(daily_requests=3)
def test_empty_bucket_waits_before_even_a_token_request(ctx, plan, tiktok, fake):
    # Was a (minor) bug: paid_call fetched the token before taking quota.
    exhaust_bucket(ctx, plan)
    with pytest.raises(QuotaWait):
        handle_page(ctx, first(plan), "m0", 0)
    assert tiktok.calls == []


def test_429_pauses_briefly_then_three_in_a_row_spend_the_credential(ctx, plan, tiktok, fake):
    limited = response(429, error_body("rate_limit_exceeded", "API rate limit exceeded"))
    tiktok.add_video(START, END, None, limited, limited, limited)
    waits = []
    for attempt in range(3):
        with pytest.raises(QuotaWait) as caught:
            handle_page(ctx, first(plan), "m0", 0)  # the parked message comes back with the same id
        waits.append(caught.value.wait_s)
    assert waits[:2] == [5, 30]
    assert abs(waits[2] - (seconds_to_midnight(ctx.settings.quota_clock_offset_s) + RESET_MARGIN_S)) < 5
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (3, 0)  # every 429 cost a request, no records
    assert abs(view.spent_for_s - (seconds_to_midnight(ctx.settings.quota_clock_offset_s) + RESET_MARGIN_S)) < 5
    # the credential is now spent: the next attempt waits without calling TikTok
    calls = len(tiktok.calls)
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, first(plan), "m0", 0)
    assert len(tiktok.calls) == calls
    assert abs(caught.value.wait_s - (seconds_to_midnight(ctx.settings.quota_clock_offset_s) + RESET_MARGIN_S)) < 5
    assert ctx.store.status(plan.id).errors == 0  # waiting is not failing


def test_one_burst_of_429s_across_the_fleet_does_not_spend_the_day(ctx, make_plan, tiktok, fake):
    plan = make_plan(period="20240101-20240331")  # three windows: three chains in parallel
    limited = response(429, error_body("rate_limit_exceeded", "API rate limit exceeded"))
    waits = []
    for window in plan.windows:
        start, end = window.split("-")
        tiktok.add_video(start, end, None, limited)
        with pytest.raises(QuotaWait) as caught:
            handle_page(ctx, first(plan, window), f"m-{window}", 0)
        waits.append(caught.value.wait_s)
    assert max(waits) <= 30  # short-term throttling: a pause, not the rest of the day
    assert bucket(ctx, plan).spent_for_s == 0


def test_a_success_ends_the_429_streak(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    limited = response(429, error_body("rate_limit_exceeded"))
    tiktok.add_video(START, END, None, limited, limited, page_body([video(1)], cursor=100, has_more=True, search_id="S"))
    tiktok.add_video(START, END, 100, limited)
    for _ in range(2):
        with pytest.raises(QuotaWait):
            handle_page(ctx, first(plan), "m0", 0)
    handle_page(ctx, first(plan), "m0", 0)
    (task,) = page_tasks(take(fake, "pages"))
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, task, "m1", 0)
    assert caught.value.wait_s == 5  # a fresh streak: a short pause, not the rest of the day
    assert bucket(ctx, plan).spent_for_s == 0


def test_reserved_records_are_refunded_to_what_the_page_used(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, page_body([video(3), video(2), video(1)], cursor=100, has_more=True, search_id="S"))
    handle_page(ctx, first(plan), "m0", 0)
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (1, 3)
    assert fake.hgetall(ctx.keys.reservations(CREDENTIAL, bucket_day(ctx.settings.quota_clock_offset_s))) == {}


def test_failed_call_refunds_all_reserved_records(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, response(500, error_body("internal_error")))
    with pytest.raises(ServerSideError):
        handle_page(ctx, first(plan), "m0", 0)
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (1, 0)


@pytest.mark.limits(daily_records=40)
def test_a_page_waits_for_a_full_page_of_records(ctx, plan, tiktok, fake):
    # A search whose page size changed midway may be refused, so a page never asks for less
    # than max_count; the day's remainder is left to profile calls (1 record each).
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=True, search_id="S"))
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, first(plan), "m0", 0)
    assert caught.value.wait_s > 0
    assert tiktok.research_calls() == []
    assert (bucket(ctx, plan).requests_used, bucket(ctx, plan).records_used) == (0, 0)


@pytest.mark.limits(daily_requests=3)
def test_the_day_is_spent_to_the_last_request_never_one_over(ctx, make_plan, tiktok, fake):
    plan = make_plan(period="20240101-20240430", collect=["videos"])  # four windows
    assert len(plan.windows) == 4
    for n, window in enumerate(plan.windows):
        start, end = window.split("-")
        tiktok.add_video(start, end, None, page_body([video(n)], cursor=100, has_more=False))
    for window in plan.windows[:3]:
        handle_page(ctx, first(plan, window), f"m-{window}", 0)
    with pytest.raises(QuotaWait):
        handle_page(ctx, first(plan, plan.windows[3]), "m-last", 0)
    assert len(tiktok.research_calls()) == 3
    view = bucket(ctx, plan)
    assert (view.requests_used, view.requests_left) == (3, 0)


@pytest.mark.limits(daily_requests=2)
def test_bucket_reopens_at_utc_midnight_and_old_reservations_refund_nothing(ctx, plan, fake):
    limits = ctx.credentials.get(plan.credential)
    now = time.time()
    before_midnight = (now // 86400 + 1) * 86400 - 1.0 - now  # 23:59:59 UTC by the bucket's clock
    late = QuotaBucket(fake, ctx.keys, clock_offset_s=before_midnight)
    assert late.take(plan.credential, limits, "u1", 100).granted
    assert late.take(plan.credential, limits, "u2", 100).granted
    refused = late.take(plan.credential, limits, "u3", 100)
    assert not refused.granted and 0 < refused.wait_s <= 1.0
    after = QuotaBucket(fake, ctx.keys, clock_offset_s=before_midnight + 2.0)  # 00:00:01, the next day
    grant = after.take(plan.credential, limits, "u3", 100)
    assert grant.granted and (grant.requests_left, grant.records_left) == (1, limits.daily_records - 100)
    assert after.settle(plan.credential, "u1", 0) == 0  # yesterday's reservation: nothing to give back today
    assert after.peek(plan.credential, limits).records_used == 100


def test_a_video_without_a_usable_id_is_skipped_and_the_page_still_completes(ctx, make_plan, tiktok):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1), video(2, id=""), video(3)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    assert record_ids(ctx, plan, P0) == [vid(1), vid(3)]
    assert b'"id": ""' in (source(ctx, plan) / P0).read_bytes()  # the raw page keeps it
    status = ctx.store.status(plan.id)
    assert (status.state, status.records) == ("done", 2)
