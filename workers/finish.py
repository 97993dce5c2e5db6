"""What happens when the last unit of a harvest is done.

The unit that finished the harvest does this right after marking itself done. If its worker
dies in between, the message comes back, finds its unit done, and does it then: every step
here is safe to repeat.
"""

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
    log.info("harvest_finished", harvest=plan.id, temporary_files_removed=removed)


def finish_again_if_finished(ctx: WorkerContext, plan: HarvestPlan) -> None:
    """For a message whose unit is already done: if the harvest is finished, the message may
    be the one that finished it, come back after a crash before the finishing was done."""
    if ctx.store.is_finished(plan.id):
        harvest_finished(ctx, plan)
