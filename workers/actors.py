"""The Dramatiq actors: thin glue from a queue message to its handler.

Each actor decodes its typed payload (a payload of the wrong shape fails for good, with the
validation error as its reason), runs the handler with the per-process resources, and, when
the work cannot go on now, sends the message again with a delay and acknowledges the
original, so waiting burns no retries and survives restarts:

- quota spent, or TikTok down (`QuotaWait`): parked until the bucket reopens or the next
  probe, with the unit handed over to the parked copy;
- another delivery holds the unit (`Busy`), this one lost its hold (`LeaseLost`), or Redis
  dropped the connection mid-way: the same message again, a little later. The copy finds the
  unit done, owned by someone else, or free to finish;
- an ongoing harvest's next day is not archived yet (`NotArchivedYet`): the same message
  again, once it is (or after HARVEST_NEW_DAYS_CHECK_S);
- the harvest is paused (`HarvestStopped`): the message is held in Redis until `resume`
  sends it again; cancelled: it is dropped.
"""

import random
import uuid

import dramatiq
import msgspec
import redis
import structlog
from dramatiq.middleware import CurrentMessage

from core import messages
from schemas.messages import (
    AccountVideosTask,
    CommentTask,
    FollowTask,
    NewDaysTask,
    PageTask,
    PlaylistTask,
    RefreshTask,
    UserTask,
)
from workers import intake, metrics
from workers.account_videos import handle_account_videos
from workers.comments import handle_comments
from workers.context import WorkerContext, get_context
from workers.follows import handle_follows
from workers.journey import HarvestStopped
from workers.lease import Busy, LeaseLost
from workers.new_days import NotArchivedYet, handle_new_days
from workers.pages import handle_page
from workers.playlists import handle_playlist
from workers.refresh import handle_refresh
from workers.tiktok.errors import PermanentError, QuotaWait
from workers.users import handle_user

log = structlog.get_logger(__name__)

# Spread the wake-up of parked messages a little, so they do not all hit Redis at once: up to
# a tenth of the wait, between 0.5 and 3 seconds. Short enough that at midnight every key's
# parked work starts within seconds of the reset (the wakes are random, so each key's first
# ones come early), however much of it is parked.
PARK_JITTER_S = (0.5, 3.0)
MAX_PARK_S = 6 * 86400  # Dramatiq's delay limit is 7 days
MAX_FAIR_WAIT_S = 30.0
FAIR_BACK_OFF_STEPS = 8  # doublings counted at most: the wait is at its longest well before
# A message that gave way comes back after this long (plus the other hold's rest, when busy).
GIVE_WAY_S = (1.0, 3.0)


def lease_token(message) -> str:
    """Who the message is as a unit's owner: its id, or the token a parked copy was given."""
    return message.options.get("lease_token") or message.message_id


def _run(task_type, payload: dict, handle) -> None:
    """Run `handle(ctx, task, lease token, retries, predecessor=…)`; send the message again
    later when the work cannot go on now."""
    task = _decode(task_type, payload)
    message = CurrentMessage.get_current_message()
    assert message is not None  # actors run under the CurrentMessage middleware
    ctx = get_context()
    with structlog.contextvars.bound_contextvars(**log_context(ctx, task)):
        try:
            handle(ctx, task, lease_token(message), message.options.get("retries", 0),
                   predecessor=message.options.get("predecessor", ""))
        except QuotaWait as wait:
            _park(ctx, task.harvest_id, task.unit, message, wait)
        except HarvestStopped as stopped:
            _stopped(ctx, task.harvest_id, task.unit, message, stopped.state)
        except Busy as busy:
            _later(ctx, message, busy.wait_s, "busy")
            # Nothing ran: not a delivery that counts against the message (CrashedDeliveries).
            message.gave_way = True  # type: ignore[attr-defined]  # a MessageProxy, which takes attributes
        except LeaseLost:
            _later(ctx, message, 0.0, "hold_lost")
        except NotArchivedYet as not_yet:
            _later(ctx, message, not_yet.wait_s, "next_day")
        except (redis.ConnectionError, redis.TimeoutError) as error:
            # Redis went away mid-way: every step is safe to repeat, so repeat the message rather
            # than burn one of its retries. (The enqueue waits until Redis answers again.)
            log.warning("redis_unavailable_mid_message", error=type(error).__name__)
            _later(ctx, message, 0.0, "redis_unavailable")


def log_context(ctx: WorkerContext, task) -> dict:
    """What every log line of a unit's life carries: its harvest, unit, window and page where
    it has them, and the credential's name (never its secret)."""
    found = {"harvest": task.harvest_id, "unit": task.unit}
    for name in ("window", "page"):
        if hasattr(task, name):
            found[name] = getattr(task, name)
    try:
        plan = ctx.store.plan(task.harvest_id)  # cached by the process: no round trip after the first
    except redis.RedisError:
        return found  # the handler meets Redis's trouble and says so
    if plan is not None:
        found["credential"] = plan.credential
    return found


def _decode(task_type, payload):
    try:
        return msgspec.convert(payload, task_type)
    except msgspec.ValidationError as error:
        # Another service published something we cannot read: no retry will make it readable.
        raise PermanentError(f"message does not match {task_type.__name__}: {error}") from None


def _park(ctx: WorkerContext, harvest_id: str, unit: str, message, wait: QuotaWait) -> None:
    """Send the message again with a delay until the bucket reopens; the original is then
    acknowledged. The copy gets a new lease token and the unit is handed over to it after it
    is enqueued: if this process dies before the acknowledgement, the original comes back
    holding the old token and is dropped, so the unit never runs twice. The copy names the
    old token as its predecessor, so if it wakes before the hand-over (this thread stalled)
    it takes the unit over itself instead of being dropped."""
    ctx.store.park(harvest_id, unit, wait.why)
    plan = ctx.store.plan(harvest_id)
    assert plan is not None  # loaded (and cached) by the handler that raised QuotaWait
    metrics.quota_wait(wait.credential or plan.credential, wait.why)
    # Fair-share waits back off: a message that keeps meeting them asks less and less often
    # (1, 2, 4 ... 30 s), instead of every second or two all day.
    fair = wait.why == "fair_share"
    repeats = min(message.options.get("fair_waits", 0), FAIR_BACK_OFF_STEPS) if fair else 0
    wait_s = min(wait.wait_s * 2 ** repeats, MAX_FAIR_WAIT_S) if fair else wait.wait_s
    jitter_s = min(PARK_JITTER_S[1], max(PARK_JITTER_S[0], wait_s / 10))
    delay_s = min(MAX_PARK_S, wait_s + random.uniform(0, jitter_s))
    old, new = lease_token(message), uuid.uuid4().hex
    options = {"lease_token": new, "predecessor": old, "fair_waits": repeats + 1 if fair else 0}
    ctx.broker.enqueue(message.copy(options=options), delay=int(delay_s * 1000))
    if not ctx.leases.hand_over(harvest_id, unit, old, new):
        log.info("unit_not_handed_over", harvest=harvest_id, unit=unit)
    log.info("parked_for_quota", harvest=harvest_id, unit=unit, why=wait.why, wait_s=round(delay_s))


def _stopped(ctx: WorkerContext, harvest_id: str, unit: str, message, state: str) -> None:
    """A paused harvest's message is held until `resume` sends it again (producers/control.py),
    under a new id but with its lease token, so the copy still owns its unit. The hold checks
    the pause in the same step: if the harvest was resumed meanwhile, the message runs again
    at once. A cancelled harvest's message is acknowledged and gone."""
    if state == "paused":
        held = message.copy(message_id=uuid.uuid4().hex, options={"lease_token": lease_token(message)})
        if ctx.store.hold(harvest_id, unit, held.encode()):
            metrics.put_off(message.queue_name, "paused")
            log.info("held_while_paused")
            return
        state = "resumed"
    if state == "resumed":
        _later(ctx, message, 0.0, "resumed")
        return
    log.info("message_of_cancelled_harvest_dropped")


def _later(ctx: WorkerContext, message, wait_s: float, why: str) -> None:
    """The same message (token, predecessor, retries) again after `wait_s` and a little more."""
    delay_s = wait_s + random.uniform(*GIVE_WAY_S)
    ctx.broker.enqueue(message.copy(), delay=int(delay_s * 1000))
    metrics.put_off(message.queue_name, why)
    log.info("message_put_off", why=why, wait_s=round(delay_s, 1))


def fetch_page(payload: dict) -> None:
    _run(PageTask, payload, handle_page)


def fetch_user(payload: dict) -> None:
    _run(UserTask, payload, handle_user)


def fetch_comments(payload: dict) -> None:
    _run(CommentTask, payload, handle_comments)


def fetch_follows(payload: dict) -> None:
    _run(FollowTask, payload, handle_follows)


def fetch_account_videos(payload: dict) -> None:
    _run(AccountVideosTask, payload, handle_account_videos)


def fetch_playlist(payload: dict) -> None:
    _run(PlaylistTask, payload, handle_playlist)


def refresh_videos(payload: dict) -> None:
    _run(RefreshTask, payload, handle_refresh)


def add_new_days(payload: dict) -> None:
    _run(NewDaysTask, payload, handle_new_days)


# Among the messages a worker process holds, the ones of higher priority (lower number) run
# first. A window's pages are a chain, each page waiting for the one before, and each starts a
# harvest's fan-out: they go ahead of the profiles, comments and lists they lead to, which
# fill the threads in between.
CHAIN_PRIORITY, FAN_OUT_PRIORITY = 0, 10


def declare(broker: dramatiq.Broker) -> None:
    """Declare the actors on `broker` (once per broker)."""
    for fn, queue_name, actor_name, priority in (
        (fetch_page, messages.PAGES_QUEUE, messages.PAGE_ACTOR, CHAIN_PRIORITY),
        (fetch_user, messages.USERS_QUEUE, messages.USER_ACTOR, FAN_OUT_PRIORITY),
        (fetch_comments, messages.COMMENTS_QUEUE, messages.COMMENTS_ACTOR, FAN_OUT_PRIORITY),
        (fetch_follows, messages.LISTS_QUEUE, messages.FOLLOWS_ACTOR, FAN_OUT_PRIORITY),
        (fetch_account_videos, messages.LISTS_QUEUE, messages.ACCOUNT_VIDEOS_ACTOR, FAN_OUT_PRIORITY),
        (fetch_playlist, messages.LISTS_QUEUE, messages.PLAYLIST_ACTOR, FAN_OUT_PRIORITY),
        (refresh_videos, messages.LISTS_QUEUE, messages.REFRESH_ACTOR, FAN_OUT_PRIORITY),
        (add_new_days, messages.PAGES_QUEUE, messages.NEW_DAYS_ACTOR, CHAIN_PRIORITY),
        (intake.submit_harvest, messages.INTAKE_QUEUE, messages.INTAKE_ACTOR, CHAIN_PRIORITY),
        (intake.pause_harvest, messages.INTAKE_QUEUE, messages.PAUSE_ACTOR, CHAIN_PRIORITY),
        (intake.resume_harvest, messages.INTAKE_QUEUE, messages.RESUME_ACTOR, CHAIN_PRIORITY),
        (intake.cancel_harvest, messages.INTAKE_QUEUE, messages.CANCEL_ACTOR, CHAIN_PRIORITY),
    ):
        if actor_name not in broker.actors:
            dramatiq.actor(actor_name=actor_name, queue_name=queue_name, broker=broker, priority=priority)(fn)
