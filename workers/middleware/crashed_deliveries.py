"""Dead-letters a message whose worker keeps dying under it.

A message that kills its worker on every delivery (SIGKILL, the kernel's OOM killer, a
segfault in a library) never raises an exception, so Dramatiq's Retries never counts it: it
comes back after every death, forever. This middleware counts deliveries that started in
Redis and forgets the count when a delivery ends in any way the process lived to see (done,
failed, retried, parked). A message starting its delivery with MAX_CRASHED_DELIVERIES
unfinished ones behind it is failed (Dramatiq moves it to its dead-letter queue without
running it) and recorded with its reason, like any other dead letter. A delivery that gave
way to another one holding the unit (workers/actors.py marks it `gave_way`) ran nothing: it
takes back its own count and leaves the earlier ones standing.
"""

import time

import redis
import structlog
from dramatiq import Middleware

from workers import metrics
from workers.context import get_context
from workers.middleware.dead_letters import DeadLetter, harvest_of, record

log = structlog.get_logger(__name__)

MAX_CRASHED_DELIVERIES = 3
# The count of a message that is never delivered again fades away.
COUNT_TTL_S = 7 * 86400


class CrashedDeliveries(Middleware):
    def before_process_message(self, broker, message):
        ctx = get_context()
        key = ctx.keys.deliveries(message.message_id)
        try:
            with ctx.redis.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, COUNT_TTL_S)
                started = int(pipe.execute()[0])
        except redis.RedisError:
            return  # Redis is away: the handler will find out too, and come back later
        crashed = started - 1
        if crashed < MAX_CRASHED_DELIVERIES:
            return
        payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        reason = (f"its worker died during {crashed} deliveries in a row (killed, out of memory "
                  f"or crashed), so it is not run again")
        record(ctx.redis, ctx.keys, DeadLetter(
            message_id=message.message_id, harvest_id=harvest_of(payload), queue_name=message.queue_name,
            actor_name=message.actor_name, payload=payload, reason=reason, failed_at=time.time(),
            broker_message_id=message.options.get("redis_message_id", ""),
            lease_token=message.options.get("lease_token", ""),
        ))
        ctx.redis.delete(key)
        metrics.dead_letter(message.actor_name)
        log.error("dead_letter", harvest=harvest_of(payload), actor=message.actor_name, reason=reason)
        message.fail()  # Dramatiq skips the actor and rejects the message into its dead-letter queue

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._ended(message)

    def after_skip_message(self, broker, message):
        self._ended(message)

    @staticmethod
    def _ended(message) -> None:
        ctx = get_context()
        key = ctx.keys.deliveries(message.message_id)
        try:
            if getattr(message, "gave_way", False):
                ctx.redis.decr(key)
            else:
                ctx.redis.delete(key)
        except redis.RedisError:
            pass  # counted once too often: harmless far below the limit
