"""When Redis restarts or drops a connection, no message is lost: an enqueue waits for Redis
instead of failing (a retry or a parked copy is never dropped), messages stranded in a live
worker's unacknowledged set go back to their queue, and a message whose worker keeps dying
under it is dead-lettered with its reason instead of coming back forever."""

import dramatiq
import pytest
import redis
from dramatiq.broker import MessageProxy

from core import messages
from core.messages import producer_broker
from schemas.messages import PageTask
from tests.unit.conftest import NAMESPACE, WINDOW, queued
from workers.broker import build_broker
from workers.held import HeldConsumer
from workers.middleware.crashed_deliveries import (
    MAX_CRASHED_DELIVERIES,
    CrashedDeliveries,
)
from workers.middleware.dead_letters import list_dead


def page_message(plan) -> dramatiq.Message:
    return messages.build(PageTask(harvest_id=plan.id, window=WINDOW, page=0))


def acks(fake, broker, queue: str) -> set[bytes]:
    return fake.smembers(f"{NAMESPACE}:__acks__.{broker.broker_id}.{queue}")


# --- enqueue waits for Redis -----------------------------------------------------------------------


def flaky(monkeypatch, broker, failures: int) -> list:
    calls = []
    real = broker.do_enqueue

    def do_enqueue(*args):
        calls.append(args)
        if len(calls) <= failures:
            raise redis.ConnectionError("Connection refused")
        return real(*args)

    monkeypatch.setattr(broker, "do_enqueue", do_enqueue)
    monkeypatch.setattr("workers.broker.time.sleep", lambda s: None)
    return calls


def test_a_workers_enqueue_waits_for_redis_to_come_back(settings, fake, plan, monkeypatch):
    broker = build_broker(settings, client=fake)
    calls = flaky(monkeypatch, broker, failures=3)
    broker.enqueue(page_message(plan), delay=1000)
    assert len(calls) == 4
    assert len(queued(fake, "pages.DQ")) == 1


def test_a_producers_enqueue_fails_at_once_so_a_person_sees_it(settings, fake, plan, monkeypatch):
    broker = producer_broker(settings, fake)
    flaky(monkeypatch, broker, failures=1)
    with pytest.raises(redis.ConnectionError):
        broker.enqueue(page_message(plan))


# --- stranded messages go back ------------------------------------------------------------------------


def test_messages_fetched_but_never_seen_go_back_after_the_grace(settings, fake, plan):
    broker = build_broker(settings, client=fake)
    for _ in range(3):
        broker.enqueue(page_message(plan))
    consumer = broker.consume("pages", prefetch=1)
    held = next(consumer)  # this one the process holds
    broker.do_fetch("pages", 2)  # the reply to this fetch was lost
    assert len(acks(fake, broker, "pages")) == 3 and queued(fake, "pages") == []

    assert broker.ledger.send_back(broker, "pages", grace_s=60) == 0  # maybe a fetch in transit
    assert broker.ledger.send_back(broker, "pages", grace_s=0) == 2
    assert [m.message_id for m in queued(fake, "pages")] != []
    assert acks(fake, broker, "pages") == {held.options["redis_message_id"].encode()}
    consumer.ack(held)
    assert broker.ledger.send_back(broker, "pages", grace_s=0) == 0


def test_a_restarted_delay_queue_consumer_sends_back_what_the_old_one_held_in_memory(settings, fake, plan):
    """Dramatiq's consumer thread drops its in-memory delay queue (parked messages waiting for
    their time) when the connection breaks, and starts a new consumer."""
    broker = build_broker(settings, client=fake)
    broker.enqueue(page_message(plan), delay=3_600_000)  # parked for an hour
    old = broker.consume("pages.DQ", prefetch=10)
    parked = next(old)
    assert parked is not None and queued(fake, "pages.DQ") == []
    new = broker.consume("pages.DQ", prefetch=10)  # after "Consumer encountered a connection error"
    again = next(new)
    assert again is not None and again.message_id == parked.message_id  # fetched again, not stranded


def test_a_restarted_queue_consumer_keeps_what_the_worker_threads_still_process(settings, fake, plan):
    broker = build_broker(settings, client=fake)
    broker.enqueue(page_message(plan))
    broker.enqueue(page_message(plan))
    old = broker.consume("pages", prefetch=2)
    working = next(old)  # a worker thread has it
    stranded = old.message_cache.pop()  # fetched with it, never handed out before the break
    assert stranded is not None
    new = broker.consume("pages", prefetch=2)
    sent_back = next(new)
    assert sent_back.message_id != working.message_id  # the stranded one came back ...
    assert working.options["redis_message_id"].encode() in acks(fake, broker, "pages")  # ... not the held
    new.ack(working)


def test_the_sweeper_sends_back_stranded_messages_of_every_queue(settings, fake, plan, monkeypatch):
    broker = build_broker(settings, client=fake)
    broker.enqueue(page_message(plan))
    broker.enqueue(page_message(plan), delay=60_000)
    broker.do_fetch("pages", 1)
    broker.do_fetch("pages.DQ", 1)
    monkeypatch.setattr("workers.held.ORPHAN_AFTER_S", 0.0)
    monkeypatch.setattr("workers.broker.ORPHAN_AFTER_S", 0.0)
    broker.declare_queue("pages")
    broker.sweep("pages")
    assert len(queued(fake, "pages")) == 1 and len(queued(fake, "pages.DQ")) == 1
    assert isinstance(broker.consume("pages"), HeldConsumer)


# --- poison: a worker that keeps dying ----------------------------------------------------------------


def test_a_message_whose_worker_keeps_dying_is_dead_lettered_with_its_reason(global_context, plan, broker, fake):
    middleware = CrashedDeliveries()
    message = page_message(plan).copy(options={"redis_message_id": "r-1"})
    for delivery in range(MAX_CRASHED_DELIVERIES):  # each delivery's worker dies (no after hook)
        proxy = MessageProxy(message)
        middleware.before_process_message(broker, proxy)
        assert not proxy.failed, delivery
    proxy = MessageProxy(message)
    middleware.before_process_message(broker, proxy)
    assert proxy.failed  # Dramatiq skips it and rejects it into its dead-letter queue
    (letter,) = list_dead(fake, global_context.keys)
    assert letter.message_id == message.message_id and letter.harvest_id == plan.id
    assert f"died during {MAX_CRASHED_DELIVERIES} deliveries in a row" in letter.reason
    assert global_context.store.status(plan.id).state == "failed"


def test_deliveries_that_end_do_not_count_against_a_message(global_context, plan, broker, fake):
    middleware = CrashedDeliveries()
    message = page_message(plan)
    for _ in range(MAX_CRASHED_DELIVERIES * 3):
        proxy = MessageProxy(message)
        middleware.before_process_message(broker, proxy)
        assert not proxy.failed
        middleware.after_process_message(broker, proxy, exception=RuntimeError("failed, retried"))
    assert list_dead(fake, global_context.keys) == []
    assert not fake.exists(global_context.keys.deliveries(message.message_id))


def test_a_delivery_that_gave_way_leaves_the_crashed_ones_counted(global_context, plan, broker, fake):
    middleware = CrashedDeliveries()
    message = page_message(plan)
    for _ in range(MAX_CRASHED_DELIVERIES - 1):  # died under it
        middleware.before_process_message(broker, MessageProxy(message))
    gave_way = MessageProxy(message)  # found the dead worker's hold not yet lapsed
    middleware.before_process_message(broker, gave_way)
    gave_way.gave_way = True  # type: ignore[attr-defined]  # as workers/actors.py marks it
    middleware.after_process_message(broker, gave_way)
    middleware.before_process_message(broker, MessageProxy(message))  # dies again
    last = MessageProxy(message)
    middleware.before_process_message(broker, last)
    assert last.failed


def test_the_count_of_a_crashed_delivery_fades(global_context, plan, broker, fake):
    middleware = CrashedDeliveries()
    message = page_message(plan)
    middleware.before_process_message(broker, MessageProxy(message))
    ttl = fake.ttl(global_context.keys.deliveries(message.message_id))
    assert 6 * 86400 < ttl <= 7 * 86400


# --- strangers on our queues ----------------------------------------------------------------------


@pytest.mark.parametrize("payload", [{"harvest_id": "h"}, {"harvest_id": 7, "window": "w", "page": "zero"},
                                     {"totally": "else"}])
def test_a_message_of_the_wrong_shape_is_dead_lettered_with_the_validation_error(worker_broker, ctx, fake, payload):
    from tests.unit.conftest import run_worker

    worker_broker.enqueue(dramatiq.Message(queue_name="pages", actor_name="fetch_page", args=(payload,), kwargs={},
                                           options={}))
    run_worker(worker_broker, lambda: fake.zcard(f"{NAMESPACE}:pages.XQ") == 1)
    (letter,) = list_dead(fake, ctx.keys)
    assert letter.reason.startswith("message does not match PageTask: ")
    assert letter.payload == payload and fake.hlen(f"{NAMESPACE}:pages.DQ.msgs") == 0  # not retried
