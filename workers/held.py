"""Messages a live worker process fetched but no longer holds, sent back to their queues.

Dramatiq's Redis broker moves each fetched message id into the process's unacknowledged set
and hands it back to the queue only when the whole process is found dead. Two things strand
ids there while the process lives on:

- the reply to a fetch is lost (the connection broke after Redis ran it): the ids are in the
  set, but the process never saw the messages;
- the connection breaks while the process holds delayed messages (parked ones, waiting for
  their time in the consumer's memory): Dramatiq's consumer thread then drops its delay queue
  and starts a new consumer, and those messages are gone from memory but not from the set.

So the process keeps a ledger of the ids it really holds (handed out by its consumers and
not yet acknowledged, rejected or requeued). When a consumer is restarted, every id of its
queue that the ledger does not hold goes back at once (a restarted delay-queue consumer holds
nothing any more). Between restarts, the sweeper sends back ids that stayed out of the ledger
for ORPHAN_AFTER_S, which no fetch in transit lasts. Dramatiq's `requeue` only moves an id
still in the set, so an id acknowledged meanwhile is left alone.

This leans on Dramatiq's Redis broker internals (its key names and its consumer class), which
is why the dependency is pinned below Dramatiq's next major version.
"""

import threading
import time

import redis
import structlog
from dramatiq.brokers.redis import _RedisConsumer
from dramatiq.common import q_name
from dramatiq.errors import ConnectionClosed

log = structlog.get_logger(__name__)

# An id in the unacknowledged set but not held for this long is stranded.
ORPHAN_AFTER_S = 30.0


class HeldLedger:
    """The redis message ids this process holds, per queue (delay queues apart)."""

    def __init__(self):
        self._held: dict[str, set[str]] = {}
        self._suspects: dict[str, dict[str, float]] = {}
        self._consumers_started: set[str] = set()
        self._mutex = threading.Lock()

    def consumer_started(self, queue_name: str) -> bool:
        """A consumer for the queue starts; True when it replaces an earlier one."""
        with self._mutex:
            restarted = queue_name in self._consumers_started
            self._consumers_started.add(queue_name)
            if restarted and queue_name != q_name(queue_name):
                # The consumer thread dropped its delay queue with the old consumer.
                self._held.pop(queue_name, None)
            return restarted

    def hold(self, queue_name: str, message_id: str) -> None:
        with self._mutex:
            self._held.setdefault(queue_name, set()).add(message_id)

    def release(self, queue_name: str, message_id: str) -> None:
        with self._mutex:
            self._held.get(queue_name, set()).discard(message_id)

    def stranded(self, broker, queue_name: str, *, grace_s: float) -> list[str]:
        """Ids in this process's unacknowledged set for the queue that it has not held for
        `grace_s` (0: all it does not hold now)."""
        members = broker.client.smembers(f"{broker.namespace}:__acks__.{broker.broker_id}.{queue_name}")
        now = time.monotonic()
        with self._mutex:
            held = self._held.get(queue_name, set())
            loose = {raw.decode() for raw in members} - held
            suspects = self._suspects.setdefault(queue_name, {})
            for gone in set(suspects) - loose:
                del suspects[gone]
            for message_id in loose:
                suspects.setdefault(message_id, now)
            stranded = [m for m, since in suspects.items() if now - since >= grace_s]
            for message_id in stranded:
                del suspects[message_id]
        return stranded

    def send_back(self, broker, queue_name: str, *, grace_s: float) -> int:
        stranded = self.stranded(broker, queue_name, grace_s=grace_s)
        if stranded:
            broker.do_requeue(queue_name, *stranded)
            log.warning("stranded_messages_sent_back", queue=queue_name, count=len(stranded))
        return len(stranded)


class HeldConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, keeping the process's ledger of held messages."""

    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        self._ledger: HeldLedger = broker.ledger
        self._recover = self._ledger.consumer_started(queue_name)

    def __next__(self):
        if self._recover:
            try:
                self._ledger.send_back(self.broker, self.queue_name, grace_s=0)
            except redis.ConnectionError as error:
                raise ConnectionClosed(error) from None
            self._recover = False
        message = super().__next__()
        if message is not None:
            self._ledger.hold(self.queue_name, message.options["redis_message_id"])
        return message

    def ack(self, message):
        super().ack(message)
        self._ledger.release(self.queue_name, message.options["redis_message_id"])

    def nack(self, message):
        super().nack(message)
        self._ledger.release(self.queue_name, message.options["redis_message_id"])

    def requeue(self, messages):
        messages = list(messages)
        super().requeue(messages)
        for message in messages:
            self._ledger.release(self.queue_name, message.options["redis_message_id"])
