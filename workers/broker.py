"""The broker factory: Redis connection, recovery timing and the middleware pipeline."""

import socket
import threading
import time

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from dramatiq.middleware import CurrentMessage, ShutdownNotifications, TimeLimit

from core.config import Settings
from core.redaction import SecretRedaction
from workers.held import ORPHAN_AFTER_S, HeldConsumer, HeldLedger
from workers.middleware.crashed_deliveries import CrashedDeliveries
from workers.middleware.dead_letters import DeadLetters
from workers.middleware.resources import WorkerResources
from workers.middleware.retry_policy import retries
from workers.middleware.sweeper import FleetSweeper

log = structlog.get_logger(__name__)


class HarvestBroker(RedisBroker):
    """Dramatiq's Redis broker, plus:

    - a way to force its maintenance pass (which hands a dead worker's unacknowledged messages
      back to the queue) instead of leaving it to chance;
    - a ledger of the messages this process holds, so messages stranded in a live process's
      unacknowledged set go back to their queue (workers/held.py);
    - an enqueue that waits for Redis instead of failing: Dramatiq's
      Retries middleware (and our parking) enqueue the next attempt after the handler, and
      if that failed while Redis restarted, the message would be acknowledged and gone.
      Enqueueing twice after a lost reply only makes a duplicate, which the leases drop.
    """

    _forced = threading.local()

    def __init__(self, **options):
        super().__init__(**options)
        self.ledger = HeldLedger()

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> HeldConsumer:
        return HeldConsumer(self, queue_name, prefetch, timeout)

    def enqueue(self, message, *, delay=None):
        pause_s = 0.5
        while True:
            try:
                return super().enqueue(message, delay=delay)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("enqueue_waits_for_redis", queue=message.queue_name, error=type(error).__name__,
                            retry_in_s=pause_s)
                time.sleep(pause_s)
                pause_s = min(2 * pause_s, 5.0)

    def _should_do_maintenance(self, command: str) -> int:
        if getattr(self._forced, "on", False):
            return 1
        return super()._should_do_maintenance(command)

    def sweep(self, queue_name: str) -> int:
        """Heartbeat for this process, requeue messages held by dead workers and messages
        stranded in this live one. Returns the queue's size (waiting, delayed, in flight)."""
        for name in (queue_name, dq_name(queue_name)):
            self.ledger.send_back(self, name, grace_s=ORPHAN_AFTER_S)
        self._forced.on = True
        try:
            size = int(self.do_qsize(queue_name))
            self.do_qsize(dq_name(queue_name))  # maintenance runs on the queue named only
            return size
        finally:
            self._forced.on = False


# A dead connection (the host gone without a word) is noticed after about a minute of
# silence: 30 s idle, then 3 probes 10 s apart (the options this platform has).
KEEPALIVE = {getattr(socket, name): value
             for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))
             if hasattr(socket, name)}


def redis_client(settings: Settings, *, client_name: str = "tiktok-harvest",
                 read_timeout_s: float | None = None) -> redis.Redis:
    """Workers wait for Redis's answer however long it takes (no read timeout): a command
    Redis has not answered yet may still run, so giving up on it is worse than waiting. A
    timed-out fetch would leave the messages it moved to this worker's unacknowledged set
    with nobody to process them, and redis-py would resend a timed-out script (a quota take)
    so that it runs twice. While Redis stalls (a fork, a failover, a paused host) the fleet
    waits; a connection that is really gone is told apart by TCP keepalive. The command line
    passes a read timeout: a person would rather see an error than wait."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=read_timeout_s,
        socket_connect_timeout=5,
        socket_keepalive=True,
        socket_keepalive_options=KEEPALIVE,
        health_check_interval=30,
        client_name=client_name,
    )


def build_broker(
    settings: Settings, *, client: redis.Redis | None = None
) -> HarvestBroker:
    """The workers' broker. What only publishes uses core.messages.producer_broker: retries,
    resources and metrics only make sense where messages are processed."""
    middleware = [
        # Dramatiq's own. CurrentMessage lets a handler see its message (id, retries);
        # the time limit stops a handler stuck far longer than any API call may take.
        CurrentMessage(),
        TimeLimit(time_limit=15 * 60 * 1000),
        ShutdownNotifications(),
        # Failure handling. Retries decides that a message has failed for good, DeadLetters
        # then records why; "after" hooks run in reverse list order, so DeadLetters comes first.
        # CrashedDeliveries dead-letters a message whose worker keeps dying under it (no
        # exception ever reaches Retries then).
        DeadLetters(),
        retries(),
        CrashedDeliveries(),
        # Per-process resources (Redis pool, HTTP client, token cache) and the sweeper thread
        # that keeps this process's heartbeat and recovers dead workers' messages.
        WorkerResources(settings),
        FleetSweeper(interval_s=settings.sweep_interval_s),
        # Last, so its before_enqueue sees every option the others set (Retries' traceback):
        # nothing secret is written to a queue, a retry or a dead-letter queue.
        SecretRedaction(),
    ]
    if settings.metrics_port:
        from dramatiq.middleware.prometheus import Prometheus

        from workers.middleware.metrics import HarvestMetrics

        # Prometheus switches prometheus_client to multi-process mode in after_process_boot;
        # ours must create its metrics after that, and "after" hooks run in reverse order.
        # (Its port and folder come from the environment `tiktok-harvest worker` sets.)
        middleware[:0] = [HarvestMetrics(), Prometheus()]
    broker = HarvestBroker(
        client=client or redis_client(settings),
        namespace=settings.namespace,
        middleware=middleware,
        heartbeat_timeout=int(settings.dead_worker_after_s * 1000),
        # Kept until an operator replays or drops them; our own dead-letter record has no TTL.
        dead_message_ttl=30 * 86400 * 1000,
    )
    return broker


def install_broker(settings: Settings, *, client: redis.Redis | None = None) -> HarvestBroker:
    """Build the broker, make it Dramatiq's global one and declare the actors on it."""
    broker = build_broker(settings, client=client)
    dramatiq.set_broker(broker)
    from workers import actors

    actors.declare(broker)
    return broker
