"""An author's journey: begin (skip if done; hold it) → fetch (or reuse the stored body) → store the
raw answer and the Person record → done. Unknown, private and restricted accounts are
answers, recorded as such, not errors. A name no account can have (blank, or holding NUL or
other control characters) is recorded as unknown without a request."""

import datetime as dt

import structlog

from schemas import usernames
from schemas.messages import UserTask
from workers import metrics
from workers.calls import paid_call
from workers.client import decode_user_body
from workers.context import WorkerContext
from workers.finish import harvest_finished
from workers.records import encode_records, user_record
from workers.storage import Storage
from workers.unit import Work, unit_of_work

log = structlog.get_logger(__name__)


def handle_user(ctx: WorkerContext, task: UserTask, token: str, retries: int = 0, *,
                predecessor: str = "") -> None:
    with unit_of_work(ctx, task.harvest_id, task.unit, "", token, predecessor) as work:
        if work is not None:
            _do_user(ctx, task, work)


def _do_user(ctx: WorkerContext, task: UserTask, work: Work) -> None:
    store, storage, plan, delivery = ctx.store, ctx.storage, work.plan, work.delivery
    username = usernames.normalise(task.username)  # the form the unit, files and records use
    name = Storage.user_name(username)
    if usernames.could_exist(username):
        raw = storage.read_raw(plan, name) if work.fetched else None
        if raw is None:
            (outcome, info, raw), paid_by = paid_call(
                ctx, work, 1, lambda token, _: ctx.client.user_info(token, username), endpoint="user_info",
            )
            path = storage.write_raw(plan, name, raw, fence=work.fence)
            store.mark_fetched(delivery, paid_by)
        else:
            outcome, info = decode_user_body(raw)
            path = storage.source_dir(plan) / name
            paid_by = work.reservation or ""
        ctx.quota.settle(plan.credential, plan.id, task.unit, paid_by, 1)
        downloaded_at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    else:
        # TikTok could only answer "cannot find the user", and asking would spend quota. No
        # answer, so no raw body; the record holds no counts, so no download time shows in
        # it and the harvest's submission time stands in (the same bytes on every attempt).
        log.warning("username_not_requested", harvest=plan.id, username=usernames.escape(username))
        outcome, info = "unknown", None
        downloaded_at = dt.datetime.fromtimestamp(plan.submitted_at, dt.UTC)
    record = user_record(username, info, outcome, plan, downloaded_at)
    storage.write_records(plan, name, encode_records([record]), fence=work.fence)
    metrics.user_answered(plan.project, outcome)
    finished = store.user_done(delivery, username, outcome)
    work.completed = True
    if finished:
        harvest_finished(ctx, plan)
