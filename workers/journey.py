"""The one journey every unit of work takes, whatever research endpoint it calls:

  begin (skip if done, its window replaced or another message owns it; hold it) → the
  answer (reuse the stored one, or pay for a call and store it raw) → records → follow-ups
  → done → finish the harvest (or the compliance refresh) if this was its last unit.

What differs between endpoints — the request and its decoding, which file the answer goes
to, which records it makes, which follow-ups it sends, how it is counted done and finished — is an
`Endpoint` (workers/pages.py, workers/users.py). Every step is safe to repeat after a crash
at any line: names derive from the logical unit, a stored answer is reused instead of a new
call (and the reservation that paid for it settled), and two deliveries of one unit never
work at once: one that lost its hold is stopped before its next effect (workers/lease.py).
"""

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog

from schemas.spec import HarvestPlan
from workers import metrics
from workers.context import WorkerContext
from workers.finish import finish_if_unfinished, harvest_finished
from workers.lease import Busy, Delivery, UnitLeases
from workers.quota import RESEARCH
from workers.quota.keys_of_project import payer
from workers.tiktok.errors import PermanentError, TransientError

log = structlog.get_logger(__name__)

# The reservation noted for an answer reused from another harvest: no quota paid for it.
REUSED = "reused"

TaskT = TypeVar("TaskT")
AnswerT = TypeVar("AnswerT")


class HarvestStopped(Exception):
    """The harvest was paused or cancelled (producers/control.py): this unit stops before its
    call. `state` says which: a paused unit's message is held for `resume`, a cancelled one's
    dropped (workers/actors.py)."""

    def __init__(self, state: str):
        self.state = state
        super().__init__(f"harvest {state}")


@dataclass
class Work:
    """One delivery's work on one unit, while it holds the unit."""

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


class Endpoint(Generic[TaskT, AnswerT]):
    """What one research endpoint does differently; the journey does the rest."""

    name: str  # the `endpoint` label of metrics
    budget: str = RESEARCH  # which of the credential's daily budgets its calls spend

    def window(self, task: TaskT) -> str:
        """The window the unit belongs to ('' for none): a unit of a replaced window ends."""
        return ""

    def raw_name(self, task: TaskT) -> str:
        """The file its answer is stored under in source_records/."""
        raise NotImplementedError

    def known_without_asking(self, work: Work, task: TaskT) -> AnswerT | None:
        """An answer that needs no call (and no quota), if there is one."""
        return None

    def recent_answer(self, ctx: WorkerContext, work: Work, task: TaskT) -> tuple[bytes, float] | None:
        """An answer another harvest got lately that this unit may reuse without a call:
        (the body as received, when it was downloaded)."""
        return None

    def keep_answer(self, ctx: WorkerContext, work: Work, task: TaskT, raw: bytes) -> None:
        """A fresh answer, for other harvests to reuse."""

    def fetch(self, ctx: WorkerContext, work: Work, task: TaskT) -> tuple[tuple[AnswerT, bytes], str]:
        """Pay for one call (workers/calls.py): ((decoded answer, body as received), reservation)."""
        raise NotImplementedError

    def decode(self, raw: bytes) -> AnswerT:
        """A stored answer, decoded again."""
        raise NotImplementedError

    def records_used(self, answer: AnswerT) -> int:
        """Records the answer counts against the day's budget."""
        raise NotImplementedError

    def replace_failing(self, ctx: WorkerContext, work: Work, task: TaskT, error: TransientError,
                        retries: int) -> bool:
        """A call keeps failing: replace the unit's chain (split a window, restart a search).
        True when it was replaced and this unit has nothing more to do."""
        return False

    def store(self, ctx: WorkerContext, work: Work, task: TaskT, answer: AnswerT, downloaded_at: dt.datetime) -> int:
        """Write the unit's records (fenced: `work.fence`); returns how many are new."""
        raise NotImplementedError

    def follow_up(self, ctx: WorkerContext, work: Work, task: TaskT, answer: AnswerT) -> None:
        """Send the work this answer leads to (safe to send twice: duplicates are dropped)."""

    def complete(self, ctx: WorkerContext, work: Work, task: TaskT, answer: AnswerT, records: int) -> bool:
        """Mark the unit done (fenced); True when it was the last unit of what it belongs to
        (the harvest, for every endpoint but the compliance refresh)."""
        raise NotImplementedError

    def finish(self, ctx: WorkerContext, plan: HarvestPlan) -> None:
        """Right after `complete` said this was the last unit."""
        harvest_finished(ctx, plan)

    def finish_if_unfinished(self, ctx: WorkerContext, plan: HarvestPlan) -> None:
        """For a message whose unit is done already: it may be the one that completed the
        work, come back after a crash before finishing it."""
        finish_if_unfinished(ctx, plan)


def run(ctx: WorkerContext, endpoint: Endpoint[TaskT, AnswerT], task: TaskT, unit: str, harvest_id: str,
        token: str, retries: int, predecessor: str = "") -> None:
    """One delivery of `task`. `token`: the lease token its message carries (its id, or a
    parked copy's own); `predecessor`: the token a parked copy may succeed."""
    with unit_of_work(ctx, harvest_id, unit, endpoint.window(task), token, predecessor,
                      on_done=endpoint.finish_if_unfinished) as work:
        if work is None:
            return
        got = _answer(ctx, endpoint, work, task, retries)
        if got is None:
            return  # the unit's chain was replaced
        answer, downloaded_at = got
        records = endpoint.store(ctx, work, task, answer, downloaded_at)
        endpoint.follow_up(ctx, work, task, answer)
        finished = endpoint.complete(ctx, work, task, answer, records)
        work.completed = True
        metrics.unit_stored(work.plan.project, endpoint.name, records)
        if finished:
            endpoint.finish(ctx, work.plan)


def _answer(ctx: WorkerContext, endpoint: Endpoint[TaskT, AnswerT], work: Work, task: TaskT,
            retries: int) -> tuple[AnswerT, dt.datetime] | None:
    """The unit's answer and when it was downloaded: stored by an earlier attempt (no second
    call, and the same records the first attempt may already have claimed), or paid for now."""
    plan, storage = work.plan, ctx.storage
    known = endpoint.known_without_asking(work, task)
    if known is not None:
        # No answer from TikTok, so no raw file; the submission time stands in for the
        # download time, the same on every attempt.
        return known, dt.datetime.fromtimestamp(plan.submitted_at, dt.UTC)
    name = endpoint.raw_name(task)
    raw = storage.read_raw(plan, name) if work.fetched else None
    recent = endpoint.recent_answer(ctx, work, task) if raw is None else None
    if recent is not None:
        raw, downloaded_at = recent
        answer = endpoint.decode(raw)
        path = storage.write_raw(plan, name, raw, fence=work.fence, downloaded_at=downloaded_at)
        ctx.store.mark_fetched(work.delivery, REUSED)
        paid_by = REUSED
    elif raw is None:
        try:
            (answer, raw), paid_by = endpoint.fetch(ctx, work, task)
        except TransientError as error:
            if endpoint.replace_failing(ctx, work, task, error, retries):
                return None
            raise
        path = storage.write_raw(plan, name, raw, fence=work.fence)
        ctx.store.mark_fetched(work.delivery, paid_by)
        endpoint.keep_answer(ctx, work, task, raw)
    else:
        answer = endpoint.decode(raw)
        path = storage.source_dir(plan) / name
        paid_by = work.reservation or ""
    if paid_by != REUSED:
        bucket, taken = payer(paid_by, endpoint.budget, plan.credential)
        ctx.quota.settle(bucket, plan.id, work.delivery.unit, taken,
                         endpoint.records_used(answer))
    return answer, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


@contextmanager
def unit_of_work(ctx: WorkerContext, harvest_id: str, unit: str, window: str, token: str,
                 predecessor: str = "",
                 on_done: Callable[[WorkerContext, HarvestPlan], None] = finish_if_unfinished,
                 ) -> Iterator[Work | None]:
    """One atomic check-and-hold (workers/lease.py), the work while the hold lasts, the hold
    let go. Yields the Work when this delivery may do the unit, None when there is nothing to
    do: a unit that is done is acknowledged without a call (and what it belongs to finished
    by `on_done`, if a crash came between the two); a unit whose window was replaced, or that
    another message owns, is dropped; a unit another delivery runs now is put off (`Busy`)."""
    begun = ctx.leases.begin(harvest_id, unit, window, token, predecessor)
    if begun.verdict == "unknown":
        raise PermanentError(f"unknown harvest {harvest_id}")
    if begun.verdict == "busy":
        raise Busy(begun.wait_s)
    if begun.verdict in ("paused", "cancelled"):
        raise HarvestStopped(begun.verdict)
    if begun.verdict == "purged":
        log.info("message_for_purged_harvest_dropped", harvest=harvest_id, unit=unit)
        yield None
        return
    plan = ctx.store.plan(harvest_id, begun.generation)
    if plan is None:  # purged between the two reads
        yield None
        return
    if begun.verdict == "done":
        on_done(ctx, plan)
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
