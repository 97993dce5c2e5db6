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

# 429s in a row (within THROTTLE_WINDOW_S) before the credential counts as spent for the day;
# fewer are short-term throttling, waited out after a pause.
THROTTLE_LIMIT = 3
THROTTLE_WINDOW_S = 600
THROTTLE_PAUSES_S = (5, 30)


def quota_unit(plan: HarvestPlan, unit: str) -> str:
    """Reservations are per harvest and logical unit: unit names repeat across harvests."""
    return f"{plan.id}|{unit}"


def paid_call(
    ctx: WorkerContext, plan: HarvestPlan, unit: str, want_records: int, call: Callable[[str, int], T],
    *, endpoint: str,
) -> T:
    """Run `call(token, max_count)` once quota is granted. Raises QuotaWait when the bucket is
    empty (or TikTok keeps saying 429) and ApiError for everything the caller must handle."""
    credential = ctx.credentials.get(plan.credential)
    reservation = quota_unit(plan, unit)
    token = ctx.tokens.get(plan.credential, credential)
    for attempt in (1, 2):
        grant = ctx.quota.take(plan.credential, credential, reservation, want_records)
        metrics.quota_left(plan.credential, grant.requests_left, grant.records_left)
        if not grant.granted:
            raise QuotaWait(grant.wait_s)
        ctx.store.unpark(plan.id, unit)
        ctx.store.count(plan.id, "requests")
        began = time.perf_counter()
        try:
            result = call(token, grant.records)
        except ApiError as error:
            metrics.api_request(plan.credential, endpoint, type(error).__name__, time.perf_counter() - began)
            ctx.quota.settle(plan.credential, reservation, 0)
            if isinstance(error, TokenInvalid) and attempt == 1:
                ctx.tokens.invalidate(plan.credential, credential, token)
                token = ctx.tokens.get(plan.credential, credential)
                continue  # the resend is a request of its own, paid for again
            if isinstance(error, RateLimited):
                raise QuotaWait(_throttled(ctx, plan)) from None
            ctx.store.count(plan.id, "errors")
            raise
        metrics.api_request(plan.credential, endpoint, "ok", time.perf_counter() - began)
        ctx.redis.delete(_throttle_key(ctx, plan))
        return result
    raise AssertionError("unreachable")


def _throttle_key(ctx: WorkerContext, plan: HarvestPlan) -> str:
    return f"{ctx.keys.quota(plan.credential)}:throttled"


def _throttled(ctx: WorkerContext, plan: HarvestPlan) -> float:
    """Seconds to wait after a 429: a short pause at first, the rest of the day if it persists."""
    key = _throttle_key(ctx, plan)
    with ctx.redis.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, THROTTLE_WINDOW_S)
        streak = int(pipe.execute()[0])
    if streak >= THROTTLE_LIMIT:
        wait_s = ctx.quota.mark_spent(plan.credential)
        log.warning("credential_spent", credential=plan.credential, wait_s=round(wait_s))
        return wait_s
    return THROTTLE_PAUSES_S[min(streak, len(THROTTLE_PAUSES_S)) - 1]
