"""Records why a message failed for good, and marks its harvest failed.

Dramatiq moves such a message to its dead-letter queue; we also keep our own record (no
expiry) with the reason, so `tiktok-harvest dead list` can show it and `dead replay` can
send it again.
"""

import time

import msgspec
import structlog
from dramatiq import Middleware

from workers import metrics
from workers.context import get_context
from workers.redaction import scrub

log = structlog.get_logger(__name__)


class DeadLetter(msgspec.Struct):
    message_id: str
    harvest_id: str | None
    queue_name: str
    actor_name: str
    payload: dict
    reason: str
    failed_at: float
    broker_message_id: str = ""  # the id under which Dramatiq keeps it in its own DLQ
    lease_token: str = ""  # the lease it held (see workers.actors.lease_token), kept on replay


class DeadLetters(Middleware):
    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None or not message.failed:
            return
        payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        harvest_id = payload.get("harvest_id")
        letter = DeadLetter(
            message_id=message.message_id,
            harvest_id=harvest_id,
            queue_name=message.queue_name,
            actor_name=message.actor_name,
            payload=payload,
            # Our exceptions carry safe reasons; anything else is named by its class only. Still
            # scrubbed: a reason can quote TikTok's own error text.
            reason=scrub(str(exception)) if getattr(exception, "reason", None) else type(exception).__name__,
            failed_at=time.time(),
            broker_message_id=message.options.get("redis_message_id", ""),
            lease_token=message.options.get("lease_token", ""),
        )
        context = get_context()
        record(context.redis, context.keys, letter)
        metrics.dead_letter(message.actor_name)
        log.error("dead_letter", harvest=harvest_id, actor=message.actor_name, reason=letter.reason)


def record(redis, keys, letter: DeadLetter) -> None:
    with redis.pipeline() as pipe:
        pipe.hset(keys.dead_letters, letter.message_id, msgspec.json.encode(letter))
        if letter.harvest_id:
            pipe.hincrby(keys.stats(letter.harvest_id), "dead_letters", 1)
        pipe.execute()


def list_dead(redis, keys, harvest_id: str | None = None) -> list[DeadLetter]:
    letters = [msgspec.json.decode(raw, type=DeadLetter) for raw in redis.hvals(keys.dead_letters)]
    if harvest_id:
        letters = [letter for letter in letters if letter.harvest_id == harvest_id]
    return sorted(letters, key=lambda letter: letter.failed_at)


def replay(broker, redis, keys, letter: DeadLetter) -> None:
    """Send a dead message again (same id, so it keeps its lease) with fresh retries."""
    from dramatiq import Message

    broker.enqueue(Message(queue_name=letter.queue_name, actor_name=letter.actor_name,
                           args=(letter.payload,), kwargs={},
                           options={"lease_token": letter.lease_token} if letter.lease_token else {},
                           message_id=letter.message_id))
    dlq = f"{keys.namespace}:{letter.queue_name}.XQ"
    with redis.pipeline() as pipe:
        pipe.hdel(keys.dead_letters, letter.message_id)
        if letter.harvest_id:
            pipe.hincrby(keys.stats(letter.harvest_id), "dead_letters", -1)
        if letter.broker_message_id:
            pipe.zrem(dlq, letter.broker_message_id)
            pipe.hdel(f"{dlq}.msgs", letter.broker_message_id)
        pipe.execute()
