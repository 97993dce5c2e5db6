"""An author's journey (workers/users.py handle_user): outcomes, records, re-handling."""

import json

import httpx
import pytest

from schemas.messages import UserTask
from tests.unit.conftest import error_body, files, user_body
from workers.tiktok.errors import QuotaWait, ServerSideError
from workers.users import handle_user


def person(ctx, plan, username) -> dict:
    (record,) = json.loads((ctx.storage.records_dir(plan) / f"tiktok_user_{username}.json").read_bytes())
    return record


def status_of(record) -> str:
    return {p["name"]: p["value"] for p in record["additionalProperty"]}["tiktok_account_status"]


def request_user(ctx, plan, username):
    """What a page does before sending the UserTask: the author counts as requested."""
    ctx.store.mark_users_requested(plan.id, [username])
    return UserTask(harvest_id=plan.id, username=username)


def test_ok_user_stores_raw_body_and_person_record(ctx, plan, tiktok):
    raw = user_body(display_name="Alice A.", follower_count=1200)
    tiktok.add_user("alice", raw)
    handle_user(ctx, request_user(ctx, plan, "alice"), "u1")

    assert files(ctx.storage.source_dir(plan)) == {"tiktok_user_alice.json": raw}
    assert list(files(ctx.storage.records_dir(plan))) == ["tiktok_user_alice.json"]
    record = person(ctx, plan, "alice")
    assert record["@type"] == "Person" and record["@id"] == "iCANDID_tiktok_user_alice"
    assert record["alternateName"] == "alice" and record["name"] == "Alice A."
    assert status_of(record) == "ok"
    assert {c["interactionType"]: c["userInteractionCount"] for c in record["interactionStatistic"]} == {
        "https://schema.org/FollowAction": 1200, "https://schema.org/LikeAction": 40}
    (request,) = tiktok.research_calls("/v2/research/user/info/")
    assert json.loads(request.content) == {"username": "alice"}
    assert ctx.store.is_done(plan.id, "user:alice")
    assert ctx.redis.hgetall(ctx.keys.users_done(plan.id)) == {b"alice": b"ok"}
    view = ctx.quota.peek(plan.credential, ctx.credentials.get(plan.credential))
    assert (view.requests_used, view.records_used) == (1, 1)


@pytest.mark.parametrize("message, outcome", [
    ("The user cannot find the user with username ghost", "unknown"),
    ("User ghost is private", "private"),
    ("API cannot return this user's information", "restricted"),
])
def test_unknown_private_restricted_are_answers_not_errors(ctx, plan, tiktok, message, outcome):
    raw = error_body("invalid_params", message)
    tiktok.add_user("ghost", httpx.Response(400, content=raw))
    handle_user(ctx, request_user(ctx, plan, "ghost"), "u1")

    assert files(ctx.storage.source_dir(plan)) == {"tiktok_user_ghost.json": raw}
    record = person(ctx, plan, "ghost")
    assert record["@id"] == "iCANDID_tiktok_user_ghost" and record["alternateName"] == "ghost"
    assert record["url"] == "https://www.tiktok.com/@ghost"
    assert status_of(record) == outcome
    assert "name" not in record and "interactionStatistic" not in record
    assert ctx.redis.hgetall(ctx.keys.users_done(plan.id)) == {b"ghost": outcome.encode()}
    status = ctx.store.status(plan.id)
    assert (status.users_done, status.users_requested, status.errors, status.dead_letters) == (1, 1, 0, 0)


def test_rehandling_after_a_crash_reuses_the_stored_body(ctx, plan, tiktok, monkeypatch):
    raw = user_body()
    tiktok.add_user("alice", raw)  # one answer: a second call would fail the test
    user_done = ctx.store.user_done
    monkeypatch.setattr(ctx.store, "user_done", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    task = request_user(ctx, plan, "alice")
    with pytest.raises(RuntimeError):
        handle_user(ctx, task, "u1")
    stored = (files(ctx.storage.source_dir(plan)), files(ctx.storage.records_dir(plan)))
    monkeypatch.setattr(ctx.store, "user_done", user_done)

    handle_user(ctx, task, "u1")
    assert len(tiktok.research_calls("/v2/research/user/info/")) == 1
    assert (files(ctx.storage.source_dir(plan)), files(ctx.storage.records_dir(plan))) == stored
    assert ctx.store.status(plan.id).users_done == 1
    view = ctx.quota.peek(plan.credential, ctx.credentials.get(plan.credential))
    assert view.requests_used == 1


def test_rehandling_a_stored_unknown_user_keeps_its_outcome(ctx, plan, tiktok, monkeypatch):
    tiktok.add_user("ghost", httpx.Response(400, content=error_body("invalid_params", "User ghost is private")))
    user_done = ctx.store.user_done
    monkeypatch.setattr(ctx.store, "user_done", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    task = request_user(ctx, plan, "ghost")
    with pytest.raises(RuntimeError):
        handle_user(ctx, task, "u1")
    monkeypatch.setattr(ctx.store, "user_done", user_done)
    handle_user(ctx, task, "u1")
    assert len(tiktok.research_calls("/v2/research/user/info/")) == 1
    assert status_of(person(ctx, plan, "ghost")) == "private"
    assert ctx.redis.hget(ctx.keys.users_done(plan.id), "ghost") == b"private"


def test_done_user_is_skipped_and_duplicate_during_lease_does_nothing(ctx, plan, tiktok):
    task = request_user(ctx, plan, "alice")
    begun = ctx.leases.begin(plan.id, task.unit, "", "u-original")  # the original's message owns it
    ctx.leases.end(begun.delivery, completed=False)
    handle_user(ctx, task, "u-duplicate")
    assert tiktok.calls == [] and not ctx.store.is_done(plan.id, task.unit)
    tiktok.add_user("alice", user_body())
    handle_user(ctx, task, "u-original")
    calls = len(tiktok.calls)
    handle_user(ctx, task, "u-original")
    handle_user(ctx, task, "u-later")
    assert len(tiktok.calls) == calls
    assert ctx.store.status(plan.id).users_done == 1


def test_user_server_error_is_raised_and_nothing_stored(ctx, plan, tiktok):
    tiktok.add_user("alice", httpx.Response(500, content=error_body("internal_error", "")))
    with pytest.raises(ServerSideError):
        handle_user(ctx, request_user(ctx, plan, "alice"), "u1")
    assert files(ctx.storage.source_dir(plan)) == {}
    assert not ctx.store.is_done(plan.id, "user:alice")


@pytest.mark.limits(daily_requests=1)
def test_user_waits_for_quota(ctx, plan, tiktok):
    limits = ctx.credentials.get(plan.credential)
    assert ctx.quota.take(plan.credential, limits, plan.id, "other", 1).granted
    with pytest.raises(QuotaWait):
        handle_user(ctx, request_user(ctx, plan, "alice"), "u1")
    assert tiktok.research_calls("/v2/research/user/info/") == []


def test_odd_username_cannot_leave_its_folder(ctx, plan, tiktok):
    tiktok.add_user("../evil", user_body())
    handle_user(ctx, request_user(ctx, plan, "../evil"), "u1")
    assert list(files(ctx.storage.source_dir(plan))) == ["tiktok_user_..%2Fevil.json"]
    assert list(files(ctx.storage.records_dir(plan))) == ["tiktok_user_..%2Fevil.json"]
