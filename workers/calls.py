"""One research API call, paid for from the credential's bucket.

Shared by every actor: take quota (or wait), get the fleet's token, call, resend once on an
invalid token, give back unused records, and turn repeated 429s into a spent credential.
"""

import time
from typing import Callable, TypeVar

import structlog

from schemas.spec import HarvestPlan
from workers import metrics
from workers.context import WorkerContext
from workers.errors import ApiError, QuotaWait, RateLimited, TokenInvalid

log = structlog.get_logger(__name__)
T = TypeVar("T")

# A unit answered 429 pauses THROTTLE_PAUSES_S[n] after its n-th 429 in a row (within
# THROTTLE_WINDOW_S); one more 429 after the last pause marks the credential spent.
THROTTLE_WINDOW_S = 600
THROTTLE_PAUSES_S = (5, 30)


def paid_call(
    ctx: WorkerContext, plan: HarvestPlan, unit: str, want_records: int, call: Callable[[str, int], T],
    *, endpoint: str, least_records: int = 1,
) -> T:
    """Run `call(token, max_count)` once quota is granted. Raises QuotaWait when the bucket is
    empty (or TikTok keeps saying 429) and ApiError for everything the caller must handle."""
    credential = ctx.credentials.get(plan.credential)
    for attempt in (1, 2):
        grant = ctx.quota.take(plan.credential, credential, plan.id, unit, want_records, least_records)
        metrics.quota_left(plan.credential, grant.requests_left, grant.records_left)
        if not grant.granted:
            raise QuotaWait(grant.wait_s, grant.why)
        # The token comes after the quota: a parked message wakes without an OAuth call.
        try:
            token = ctx.tokens.get(plan.credential, credential)
        except BaseException:
            ctx.quota.settle(plan.credential, plan.id, unit, 0, unsent=True)
            raise
        ctx.store.call_started(plan.id, unit)
        began = time.perf_counter()
        try:
            result = call(token, grant.records)
        except ApiError as error:
            metrics.api_request(plan.credential, endpoint, type(error).__name__, time.perf_counter() - began)
            ctx.quota.settle(plan.credential, plan.id, unit, 0)
            if isinstance(error, TokenInvalid) and attempt == 1:
                ctx.tokens.invalidate(plan.credential, credential, token)
                continue  # the resend is a request of its own, paid for again
            if isinstance(error, RateLimited):
                raise QuotaWait(_throttled(ctx, plan, unit), "throttled") from None
            ctx.store.count(plan.id, "errors")
            raise
        metrics.api_request(plan.credential, endpoint, "ok", time.perf_counter() - began)
        ctx.redis.delete(_throttle_key(ctx, plan, unit))
        return result
    raise AssertionError("unreachable")


def _throttle_key(ctx: WorkerContext, plan: HarvestPlan, unit: str) -> str:
    return f"{ctx.keys.quota(plan.credential)}:throttled:{plan.id}|{unit}"


def _throttled(ctx: WorkerContext, plan: HarvestPlan, unit: str) -> float:
    """Seconds to wait after a 429. The streak is the unit's own: a 429 counts as persistent
    only when it comes back after this unit has already paused (5 s, then 30 s), so one burst
    across the fleet does not give up the day."""
    key = _throttle_key(ctx, plan, unit)
    with ctx.redis.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, THROTTLE_WINDOW_S)
        streak = int(pipe.execute()[0])
    if streak > len(THROTTLE_PAUSES_S):
        ctx.redis.delete(key)
        wait_s = ctx.quota.mark_spent(plan.credential)
        log.warning("credential_spent", credential=plan.credential, wait_s=round(wait_s))
        return wait_s
    return THROTTLE_PAUSES_S[streak - 1]
