"""The Dramatiq actors: thin glue from a queue message to its handler.

Each actor decodes its typed payload, runs the handler with the per-process resources, and
parks the message when the credential's quota is spent (re-sent with a delay until the bucket
reopens, the original acknowledged): waiting burns no retries and survives restarts.
"""

import random
import uuid

import dramatiq
import msgspec
import structlog
from dramatiq.middleware import CurrentMessage

from schemas.messages import PageTask, SubmitHarvest, UserTask
from workers import messages, metrics
from workers.context import get_context
from workers.errors import QuotaWait
from workers.pages import handle_page
from workers.users import handle_user

log = structlog.get_logger(__name__)

# Spread the wake-up of parked messages a little, so they do not all hit Redis at once: up to
# a tenth of the wait, between 1 and 10 seconds.
PARK_JITTER_S = (1.0, 10.0)
MAX_PARK_S = 6 * 86400  # Dramatiq's delay limit is 7 days


def lease_token(message) -> str:
    """Who holds a unit's lease: the message id, or the token a parked copy was given."""
    return message.options.get("lease_token") or message.message_id


def _run(task, handle) -> None:
    """Run `handle(ctx, task, lease token, retries)`; park the message if quota is spent."""
    message = CurrentMessage.get_current_message()
    ctx = get_context()
    with structlog.contextvars.bound_contextvars(harvest=task.harvest_id, unit=task.unit):
        try:
            handle(ctx, task, lease_token(message), message.options.get("retries", 0))
        except QuotaWait as wait:
            _park(ctx, task.harvest_id, task.unit, message, wait)


def _park(ctx, harvest_id: str, unit: str, message, wait: QuotaWait) -> None:
    """Send the message again with a delay until the bucket reopens; the original is then
    acknowledged. The copy gets a new lease token and the lease is handed over to it only
    after it is enqueued: if this process dies before the acknowledgement, the original
    comes back holding the old token and is dropped, so the unit never runs twice."""
    ctx.store.park(harvest_id, unit)
    metrics.quota_wait(ctx.store.plan(harvest_id).credential, wait.why)
    jitter_s = min(PARK_JITTER_S[1], max(PARK_JITTER_S[0], wait.wait_s / 10))
    delay_s = min(MAX_PARK_S, wait.wait_s + random.uniform(0, jitter_s))
    new_token = uuid.uuid4().hex
    ctx.broker.enqueue(message.copy(options={"lease_token": new_token}), delay=int(delay_s * 1000))
    if not ctx.store.hand_over_lease(harvest_id, unit, lease_token(message), new_token):
        log.warning("lease_taken_while_parking", harvest=harvest_id, unit=unit)
    log.info("parked_for_quota", harvest=harvest_id, unit=unit, why=wait.why, wait_s=round(delay_s))


def fetch_page(payload: dict) -> None:
    _run(msgspec.convert(payload, PageTask), handle_page)


def fetch_user(payload: dict) -> None:
    _run(msgspec.convert(payload, UserTask), handle_user)


def submit_harvest(payload: dict) -> None:
    """Intake for other iCANDID services: the same validation and planning as the CLI."""
    from producers.submit import SpecRefused, submit_spec

    request = msgspec.convert(payload, SubmitHarvest)
    ctx = get_context()
    try:
        submit_spec(request.spec, ctx.settings, ctx.broker, redis=ctx.redis)
    except SpecRefused as refused:
        from workers.errors import PermanentError

        raise PermanentError(f"spec refused: {refused}") from None


def declare(broker: dramatiq.Broker) -> None:
    """Declare the actors on `broker` (once per broker)."""
    for fn, queue_name, actor_name in (
        (fetch_page, messages.PAGES_QUEUE, messages.PAGE_ACTOR),
        (fetch_user, messages.USERS_QUEUE, messages.USER_ACTOR),
        (submit_harvest, messages.INTAKE_QUEUE, messages.INTAKE_ACTOR),
    ):
        if actor_name not in broker.actors:
            dramatiq.actor(fn, actor_name=actor_name, queue_name=queue_name, broker=broker)
