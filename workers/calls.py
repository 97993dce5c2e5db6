"""One research API call, paid for from the bucket of one of the project's keys.

Shared by every actor: take quota (or wait), get the fleet's token, call, resend once on an
invalid token, give back unused records, turn repeated 429s into a spent credential, and tell
an outage (wait, probe, resume) from a unit that fails on its own (retry, split).
"""

import time
from collections.abc import Callable
from typing import TypeVar

import structlog

from schemas.credentials import Credential
from workers import metrics
from workers.context import WorkerContext
from workers.journey import HarvestStopped, Work
from workers.quota import RESEARCH, Grant, budget_bucket, reservation
from workers.quota.keys_of_project import keys_to_try, paid_with, take_from_keys
from workers.tiktok.errors import (
    ApiError,
    QuotaWait,
    RateLimited,
    TokenInvalid,
    TransientError,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

# A unit answered 429 pauses THROTTLE_PAUSES_S[n] after its n-th 429 in a row (within
# THROTTLE_WINDOW_S); one more 429 after the last pause marks the credential spent.
THROTTLE_WINDOW_S = 600
THROTTLE_PAUSES_S = (5, 30)
# A project with no key valid today (its access ended, the next not begun): look again this
# often, so that a key added to the credentials file is used without a restart.
NO_VALID_KEY_WAIT_S = 600


def paid_call(
    ctx: WorkerContext, work: Work, want_records: int, call: Callable[[str, int], T],
    *, endpoint: str, least_records: int = 1, budget: str = RESEARCH,
) -> tuple[T, str]:
    """Run `call(token, max_count)` once quota is granted from `budget` of one of the
    project's keys (workers/quota/keys_of_project.py); returns its result and the note of what
    paid for it (settle it once the records are counted). Raises QuotaWait when no key can
    serve (every bucket empty, TikTok saying 429 or down), HarvestStopped when the harvest was
    paused or cancelled, and ApiError for everything the caller must handle."""
    plan, unit = work.plan, work.delivery.unit
    for attempt in (1, 2):
        taken = reservation(plan.id, unit, work.delivery.id, attempt)
        name, credential, grant = _take(ctx, work, budget, taken, want_records, least_records)
        bucket = budget_bucket(name, budget)
        try:
            # The token comes after the quota: a parked message wakes without an OAuth call.
            token = ctx.tokens.get(name, credential)
            # Last, right before the call: a delivery that lost its hold must not call TikTok
            # for a unit another delivery is doing (or has done).
            ctx.leases.ensure(work.delivery)
        except TransientError as error:
            ctx.quota.settle(bucket, plan.id, unit, taken, 0, unsent=True, answered=False)
            if error.outage_sign:  # the OAuth endpoint down; not another worker refreshing
                _failed(ctx, work, bucket, error, grant.probe)
            raise
        except BaseException:
            ctx.quota.settle(bucket, plan.id, unit, taken, 0, unsent=True, answered=False)
            raise
        ctx.store.call_started(plan.id, unit, endpoint, name)
        began = time.perf_counter()
        try:
            result = call(token, grant.records)
        except ApiError as error:
            metrics.api_request(name, endpoint, type(error).__name__, time.perf_counter() - began)
            outage_sign = isinstance(error, TransientError) and error.outage_sign
            unsent = isinstance(error, TransientError) and not error.reached_tiktok
            ctx.quota.settle(bucket, plan.id, unit, taken, 0, unsent=unsent, answered=not outage_sign)
            if isinstance(error, TokenInvalid) and attempt == 1:
                ctx.tokens.invalidate(name, credential, token)
                continue  # the resend is a request of its own, paid for again
            if isinstance(error, RateLimited):
                raise QuotaWait(_throttled(ctx, work, bucket), "throttled", credential=name) from None
            if outage_sign and isinstance(error, TransientError):  # only a TransientError has outage_sign
                _failed(ctx, work, bucket, error, grant.probe)
            ctx.store.count(plan.id, "errors")
            raise
        metrics.api_request(name, endpoint, "ok", time.perf_counter() - began)
        ctx.redis.delete(_throttle_key(ctx, work, bucket))
        return result, paid_with(name, taken)
    raise AssertionError("unreachable")


def _take(ctx: WorkerContext, work: Work, budget: str, taken: str, want_records: int,
          least_records: int) -> tuple[str, Credential, Grant]:
    """One request from the first of the project's keys that can serve it: (key name, key,
    grant). Raises HarvestStopped, or QuotaWait for the soonest any key may serve again."""
    plan, unit = work.plan, work.delivery.unit
    keys = keys_to_try(ctx.credentials.all(), plan.project, plan.id, unit, ctx.settings.quota_clock_offset_s)
    if not keys:
        raise QuotaWait(NO_VALID_KEY_WAIT_S, "no_valid_key", credential=plan.credential)
    granted, refused = take_from_keys(ctx.quota, keys, plan.id, taken, want_records, least_records, budget)
    if granted is not None:
        return granted
    if refused[-1][1].why in ("paused", "cancelled"):
        raise HarvestStopped(refused[-1][1].why)
    name, soonest = min(refused, key=lambda refusal: refusal[1].wait_s)
    raise QuotaWait(soonest.wait_s, soonest.why, credential=name)


def _failed(ctx: WorkerContext, work: Work, bucket: str, error: TransientError, probe: bool) -> None:
    """Ask the bucket whether TikTok is down; if so, wait for a probe instead of retrying
    (no retry burnt, nothing split). Otherwise the error goes on, marked with whether it
    looks tied to this unit."""
    plan = work.plan
    verdict = ctx.quota.api_failed(bucket, plan.id, work.delivery.unit, probe=probe)
    if verdict.outage:
        log.warning("tiktok_looks_down", credential=bucket, reason=error.reason,
                    next_probe_s=round(verdict.wait_s, 1))
        raise QuotaWait(verdict.wait_s, "api_down") from None
    error.isolated = verdict.isolated


def _throttle_key(ctx: WorkerContext, work: Work, bucket: str) -> str:
    return f"{ctx.keys.quota(bucket)}:throttled:{work.plan.id}|{work.delivery.unit}"


def _throttled(ctx: WorkerContext, work: Work, bucket: str) -> float:
    """Seconds to wait after a 429. The streak is the unit's own: a 429 counts as persistent
    only when it comes back after this unit has already paused (5 s, then 30 s), so one burst
    across the fleet does not give up the day."""
    key = _throttle_key(ctx, work, bucket)
    with ctx.redis.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, THROTTLE_WINDOW_S)
        streak = int(pipe.execute()[0])
    if streak > len(THROTTLE_PAUSES_S):
        ctx.redis.delete(key)
        wait_s = ctx.quota.mark_spent(bucket)
        log.warning("credential_spent", credential=bucket, wait_s=round(wait_s))
        return wait_s
    return THROTTLE_PAUSES_S[streak - 1]
