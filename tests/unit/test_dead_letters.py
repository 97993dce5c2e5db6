"""Dead letters (workers/middleware/dead_letters.py): a message that failed for good is
recorded with its reason and marks its harvest failed; replaying it sends the same message
id again and the harvest resumes."""

import time
from typing import Any

import dramatiq
import httpx
import msgspec
import pytest
from dramatiq.broker import MessageProxy

from core import messages
from schemas.messages import PageTask
from tests.unit.conftest import (
    CLIENT_SECRET,
    NAMESPACE,
    WINDOW,
    error_body,
    page_body,
    queued,
    run_worker,
    video,
)
from workers.middleware.dead_letters import (
    DeadLetter,
    DeadLetters,
    list_dead,
    record,
    replay,
)
from workers.pages import handle_page
from workers.tiktok.errors import PermanentError, ServerSideError

TASK: dict[str, Any] = dict(window=WINDOW, page=0)


def failed_proxy(plan, *, failed=True, redis_message_id="redis-id-1") -> MessageProxy:
    message = messages.build(PageTask(harvest_id=plan.id, **TASK))
    message = message.copy(options={"redis_message_id": redis_message_id, "retries": 1})
    proxy = MessageProxy(message)
    if failed:
        proxy.fail()
    return proxy


def test_failed_message_is_recorded_with_its_reason_and_fails_the_harvest(global_context, plan, broker, fake):
    ctx = global_context
    proxy = failed_proxy(plan)
    error = PermanentError("Invalid field: bogus", status=400, code="invalid_params", log_id="LOG9")
    before = time.time()
    DeadLetters().after_process_message(broker, proxy, exception=error)

    (letter,) = list_dead(fake, ctx.keys)
    assert letter.message_id == proxy.message_id
    assert letter.harvest_id == plan.id
    assert (letter.queue_name, letter.actor_name) == ("pages", "fetch_page")
    assert letter.payload == {"harvest_id": plan.id, "window": WINDOW, "page": 0, "cursor": 0, "search_id": None}
    assert letter.reason == "Invalid field: bogus http=400 code=invalid_params log_id=LOG9"
    assert letter.broker_message_id == "redis-id-1"
    assert before <= letter.failed_at <= time.time()
    status = ctx.store.status(plan.id)
    assert (status.state, status.dead_letters) == ("failed", 1)
    assert list_dead(fake, ctx.keys, plan.id) == [letter]
    assert list_dead(fake, ctx.keys, "other-harvest") == []


def test_message_that_will_be_retried_is_not_a_dead_letter(global_context, plan, broker, fake):
    proxy = failed_proxy(plan, failed=False)
    DeadLetters().after_process_message(broker, proxy, exception=ServerSideError("boom", status=500))
    DeadLetters().after_process_message(broker, failed_proxy(plan), exception=None)
    assert list_dead(fake, global_context.keys) == []
    assert global_context.store.status(plan.id).state == "queued"


def test_foreign_exception_is_named_by_its_class_only(global_context, plan, broker, fake):
    DeadLetters().after_process_message(broker, failed_proxy(plan),
                                        exception=RuntimeError(f"client_secret={CLIENT_SECRET}"))
    (letter,) = list_dead(fake, global_context.keys)
    assert letter.reason == "RuntimeError"
    assert CLIENT_SECRET.encode() not in b"".join(fake.hvals(global_context.keys.dead_letters))


# --- through a real Dramatiq worker with the fleet's middleware ------------------------------------




def test_worker_nacks_a_permanent_failure_into_dramatiqs_dead_letter_queue(worker_broker, ctx, plan, tiktok, fake):
    tiktok.add_video("20240101", "20240131", None,
                     httpx.Response(400, content=error_body("invalid_params", "Invalid field: bogus")))
    messages.send(worker_broker, PageTask(harvest_id=plan.id, **TASK))
    run_worker(worker_broker, lambda: fake.zcard(f"{NAMESPACE}:pages.XQ") == 1)
    assert fake.hlen(f"{NAMESPACE}:pages.msgs") == 0 and fake.hlen(f"{NAMESPACE}:pages.DQ.msgs") == 0


def test_worker_records_a_permanent_failure_and_fails_the_harvest(worker_broker, ctx, plan, tiktok, fake):
    # Dramatiq runs "after" hooks in reverse list order: DeadLetters must be listed before Retries
    # (was the other way round in workers/broker.py, so nothing was ever recorded).
    tiktok.add_video("20240101", "20240131", None,
                     httpx.Response(400, content=error_body("invalid_params", "Invalid field: bogus")))
    sent = messages.send(worker_broker, PageTask(harvest_id=plan.id, **TASK))
    run_worker(worker_broker, lambda: fake.zcard(f"{NAMESPACE}:pages.XQ") == 1)
    letters = list_dead(fake, ctx.keys)
    assert [(letter.message_id, letter.reason) for letter in letters] == [
        (sent.message_id, "Invalid field: bogus http=400 code=invalid_params log_id=20240601123456ABCDEF")]
    assert ctx.store.status(plan.id).state == "failed"


def test_worker_retries_a_transient_failure_without_a_dead_letter(worker_broker, ctx, plan, tiktok, fake):
    tiktok.add_video("20240101", "20240131", None, httpx.Response(500, content=error_body("internal_error")))
    sent = messages.send(worker_broker, PageTask(harvest_id=plan.id, **TASK))
    run_worker(worker_broker, lambda: fake.hlen(f"{NAMESPACE}:pages.DQ.msgs") == 1)
    (retry,) = [dramatiq.Message.decode(raw) for raw in fake.hvals(f"{NAMESPACE}:pages.DQ.msgs")]
    assert retry.message_id == sent.message_id and retry.options["retries"] == 1
    assert list_dead(fake, ctx.keys) == [] and fake.zcard(f"{NAMESPACE}:pages.XQ") == 0
    status = ctx.store.status(plan.id)
    assert (status.state, status.errors, status.dead_letters) == ("running", 1, 0)


def test_worker_dead_letters_a_transient_failure_once_retries_are_spent(worker_broker, ctx, plan, tiktok, fake):
    full = page_body([video(1)], cursor=100, has_more=False)
    tiktok.add_video("20240101", "20240131", None, full[:30])  # a 200 cut short: transient, never split
    message = messages.build(PageTask(harvest_id=plan.id, **TASK)).copy(options={"retries": 8})
    worker_broker.enqueue(message)
    run_worker(worker_broker, lambda: fake.zcard(f"{NAMESPACE}:pages.XQ") == 1)
    (letter,) = list_dead(fake, ctx.keys)
    assert letter.message_id == message.message_id
    assert letter.reason.startswith("video page did not decode")
    assert ctx.store.status(plan.id).state == "failed"


# --- replay -----------------------------------------------------------------------------------


def dead_in_dramatiq(broker, fake, plan):
    """A page message that failed for good: taken by a worker, nacked into pages.XQ."""
    sent = messages.send(broker, PageTask(harvest_id=plan.id, **TASK))
    redis_id = sent.options["redis_message_id"]
    broker.do_fetch("pages", 1)
    broker.do_nack("pages", redis_id)
    assert fake.zrange(f"{NAMESPACE}:pages.XQ", 0, -1) == [redis_id.encode()]
    return sent


def test_replay_sends_the_same_message_id_and_the_harvest_resumes(global_context, plan, broker, fake, tiktok):
    ctx = global_context
    sent = dead_in_dramatiq(broker, fake, plan)
    # its attempt took the page's lease, then failed for good
    tiktok.add_video("20240101", "20240131", None,
                     httpx.Response(400, content=error_body("invalid_params", "Invalid field: bogus")))
    with pytest.raises(PermanentError) as caught:
        handle_page(ctx, PageTask(harvest_id=plan.id, **TASK), sent.message_id, 0)
    DeadLetters().after_process_message(broker, _failed(sent), exception=caught.value)
    assert ctx.store.status(plan.id).state == "failed"
    (letter,) = list_dead(fake, ctx.keys)

    replay(broker, fake, ctx.keys, letter)

    (again,) = queued(fake, "pages")
    assert again.message_id == sent.message_id
    assert (again.queue_name, again.actor_name) == ("pages", "fetch_page")
    assert list(again.args) == [letter.payload]
    assert set(again.options) == {"redis_message_id"}  # fresh retries
    assert list_dead(fake, ctx.keys) == []
    assert fake.zcard(f"{NAMESPACE}:pages.XQ") == 0 and fake.hlen(f"{NAMESPACE}:pages.XQ.msgs") == 0
    status = ctx.store.status(plan.id)
    assert status.dead_letters == 0 and status.state == "running"

    # the replayed message still holds the page's lease: it does the page
    tiktok.add_video("20240101", "20240131", None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, msgspec.convert(again.args[0], PageTask), again.message_id, 0)
    assert ctx.store.is_done(plan.id, "page:20240101-20240131:00000")


def _failed(message) -> MessageProxy:
    proxy = MessageProxy(message)
    proxy.fail()
    return proxy


def test_harvest_stays_failed_while_another_dead_letter_remains(global_context, plan, broker, fake):
    ctx = global_context
    for n in (1, 2):
        record(fake, ctx.keys, DeadLetter(message_id=f"m{n}", harvest_id=plan.id, queue_name="pages",
                                          actor_name="fetch_page", payload={"harvest_id": plan.id, "window": WINDOW,
                                                                            "page": n}, reason="x", failed_at=float(n)))
    first, second = list_dead(fake, ctx.keys)
    assert (first.message_id, second.message_id) == ("m1", "m2")
    replay(broker, fake, ctx.keys, first)
    assert ctx.store.status(plan.id).state == "failed"
    replay(broker, fake, ctx.keys, second)
    assert ctx.store.status(plan.id).state == "queued"
    assert [m.message_id for m in queued(fake, "pages")] == ["m1", "m2"]


def test_a_parked_message_replayed_keeps_the_lease_it_was_handed(global_context, plan, broker, fake):
    ctx = global_context
    proxy = failed_proxy(plan)
    proxy._message = proxy._message.copy(options={"lease_token": "token-after-parking"})
    DeadLetters().after_process_message(broker, proxy, exception=PermanentError("refused", status=400))
    (letter,) = list_dead(fake, ctx.keys)
    assert letter.lease_token == "token-after-parking"
    replay(broker, fake, ctx.keys, letter)
    (again,) = queued(fake, "pages")
    assert again.message_id == proxy.message_id and again.options["lease_token"] == "token-after-parking"
