"""Finishing a harvest, once every unit is done.

The unit that completed the harvest finishes it right after marking itself done; only then
is the harvest `done` (finished_at set). If its worker dies in between, the message comes
back, finds its unit done and the harvest not finished, and finishes it: every step here is
safe to repeat.
"""

from pathlib import Path

import structlog

from schemas.spec import HarvestPlan
from workers import retention
from workers.authors import expand_authors
from workers.context import WorkerContext
from workers.records_lock import records_held

log = structlog.get_logger(__name__)

# Per-video bookkeeping of a finished harvest expires after this long, a grace for messages
# still in flight; the rest of its state after HARVEST_RETENTION_DAYS (workers/retention.py).
FORGET_CLAIMS_AFTER_S = 86400
# A temporary file this old is a write cut short: a write in progress takes seconds.
STALE_TEMPORARY_S = 3600


def harvest_finished(ctx: WorkerContext, plan: HarvestPlan) -> None:
    """Stop holding back the other harvests on the credential, expand the authors in the
    video records, clear away the temporary files of writes a killed worker never finished
    (nothing else writes for this harvest now), give every key of the harvest its expiry, and
    mark the harvest done.

    An ongoing harvest is only caught up: it keeps its keys (they tell which days it has),
    and its next day may already be writing, so only temporary files older than any write
    in progress go."""
    ctx.store.leave_quota(plan.id, plan.credential)
    with records_held(ctx.redis, ctx.keys.records_lock(plan.id)):
        pages_rewritten = expand_authors(ctx.storage, plan) if "users" in plan.collect else 0
    removed = tidy_up(ctx, plan)
    if plan.ongoing:
        caught_up = ctx.store.mark_caught_up(plan.id)
        log.info("harvest_caught_up", harvest=plan.id, marked=caught_up, pages_with_authors_expanded=pages_rewritten,
                 temporary_files_removed=removed)
        return
    ctx.store.mark_finished(plan.id)
    log.info("harvest_finished", harvest=plan.id, pages_with_authors_expanded=pages_rewritten,
             temporary_files_removed=removed)


def tidy_up(ctx: WorkerContext, plan: HarvestPlan, *more: Path) -> int:
    """Once nothing more writes for the harvest (it finished, or a refresh of it did): clear
    away the temporary files of writes a killed worker never finished (in its folders and in
    `more`) and give every key of the harvest its expiry (a key's expiry is only ever
    shortened here). An ongoing harvest's next day may be writing: only temporary files older
    than any write in progress go, and its keys keep no expiry. Returns the files removed."""
    if plan.ongoing:
        return ctx.storage.remove_temporary(plan, *more, older_than_s=STALE_TEMPORARY_S)
    removed = ctx.storage.remove_temporary(plan, *more)
    retention.expire_finished(ctx.redis, ctx.keys, plan.id, keep_s=retention.retention_s(ctx.settings),
                              claims_s=FORGET_CLAIMS_AFTER_S)
    return removed


def finish_if_unfinished(ctx: WorkerContext, plan: HarvestPlan) -> None:
    """For a message whose unit is already done: it may be the one that completed the
    harvest, come back after a crash before the harvest was finished."""
    if ctx.store.needs_finishing(plan.id):
        harvest_finished(ctx, plan)
