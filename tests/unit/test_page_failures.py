"""Pages that fail: server errors split windows, stale searches restart them, tokens
are replaced, permanent errors are raised."""


import httpx
import msgspec
import pytest

from schemas.messages import PageTask
from tests.unit.conftest import (
    WINDOW,
    error_body,
    files,
    page_body,
    page_tasks,
    queued,
    take,
    video,
)
from tests.unit.page_helpers import (
    END,
    P0,
    START,
    bucket,
    first,
    records,
    response,
    source,
)
from workers.pages import handle_page
from workers.tiktok.errors import (
    PermanentError,
    SearchExpired,
    ServerSideError,
    TokenInvalid,
    TransientError,
)

# --- failing windows: split, restart ----------------------------------------------------------------

SERVER_FAILURES = {
    "500": lambda: response(500, error_body("internal_error", "Something went wrong")),
    "504-html": lambda: response(504, b"<html><body>504 Gateway Time-out</body></html>",
                                 **{"Content-Type": "text/html"}),
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
    assert files(source(ctx, plan)) == {} and not fake.hexists(ctx.keys.fetched(plan.id), first(plan).unit)
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
