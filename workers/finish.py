"""What happens once, when the last unit of a harvest is done."""

import structlog

from schemas.spec import HarvestPlan
from workers.context import WorkerContext

log = structlog.get_logger(__name__)

# Per-video bookkeeping of a finished harvest expires after this long.
FORGET_CLAIMS_AFTER_S = 86400


def harvest_finished(ctx: WorkerContext, plan: HarvestPlan) -> None:
    """Stop holding back the other harvests on the credential, let the per-video bookkeeping
    expire, and clear away the temporary files of writes a killed worker never finished
    (nothing writes for this harvest now)."""
    ctx.quota.leave(plan.credential, plan.id)
    ctx.store.forget_claims(plan.id, FORGET_CLAIMS_AFTER_S)
    removed = ctx.storage.remove_temporary(plan)
    log.info("harvest_done", harvest=plan.id, temporary_files_removed=removed)
