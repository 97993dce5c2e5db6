"""How every unit's journey starts and ends: one atomic check-and-hold (workers/lease.py),
then the work while the hold lasts, then the hold let go.

A unit that is done is acknowledged without a new API call (and its harvest finished, if a
crash came between the two); a unit whose window was replaced, or that another message
owns, is dropped; a unit another delivery is running now is put off (`Busy`).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog

from schemas.spec import HarvestPlan
from workers.context import WorkerContext
from workers.errors import PermanentError
from workers.finish import finish_if_unfinished
from workers.lease import Busy, Delivery, UnitLeases

log = structlog.get_logger(__name__)


@dataclass
class Work:
    plan: HarvestPlan
    delivery: Delivery
    reservation: str | None  # the quota reservation of the unit's stored answer, if one is stored
    leases: UnitLeases
    completed: bool = False  # the unit was marked done (which removed its lease)

    @property
    def fetched(self) -> bool:
        return self.reservation is not None

    def fence(self) -> None:
        """Raises LeaseLost unless this delivery still holds the unit (before a file write)."""
        self.leases.ensure(self.delivery)


@contextmanager
def unit_of_work(ctx: WorkerContext, harvest_id: str, unit: str, window: str, token: str,
                 predecessor: str = "") -> Iterator[Work | None]:
    """Yields the Work when this delivery may do the unit, None when there is nothing to do."""
    begun = ctx.leases.begin(harvest_id, unit, window, token, predecessor)
    if begun.verdict == "unknown":
        raise PermanentError(f"unknown harvest {harvest_id}")
    if begun.verdict == "busy":
        raise Busy(begun.wait_s)
    if begun.verdict == "purged":
        log.info("message_for_purged_harvest_dropped", harvest=harvest_id, unit=unit)
        yield None
        return
    plan = ctx.store.plan(harvest_id, begun.generation)
    if plan is None:  # purged between the two reads
        yield None
        return
    if begun.verdict == "done":
        finish_if_unfinished(ctx, plan)
        yield None
        return
    if begun.verdict == "closed" and not begun.window_state:
        log.error("page_for_unknown_window", harvest=harvest_id, window=window)
    if begun.delivery is None:  # closed or dropped: this chain ended, or the owner does it
        yield None
        return
    work = Work(plan, begun.delivery, begun.reservation, ctx.leases)
    try:
        yield work
    finally:
        ctx.leases.end(work.delivery, completed=work.completed)
