"""An author's journey: skip if done → lease → fetch (or reuse the stored body) → store the
raw answer and the Person record → done. Unknown, private and restricted accounts are
answers, recorded as such, not errors."""

import datetime as dt

from schemas.messages import UserTask
from workers import metrics
from workers.calls import paid_call
from workers.client import decode_user_body
from workers.context import WorkerContext
from workers.errors import PermanentError
from workers.finish import finish_if_unfinished, harvest_finished
from workers.records import encode_records, user_record
from workers.storage import Storage


def handle_user(ctx: WorkerContext, task: UserTask, message_id: str, retries: int = 0) -> None:
    store, storage = ctx.store, ctx.storage
    plan = store.plan(task.harvest_id)
    if plan is None:
        raise PermanentError(f"unknown harvest {task.harvest_id}")
    unit = task.unit
    done, fetched, _ = store.unit_state(plan.id, unit)
    if done:
        finish_if_unfinished(ctx, plan)
        return
    if not store.take_lease(plan.id, unit, message_id):
        return

    name = Storage.user_name(task.username)
    raw = storage.read_raw(plan, name) if fetched else None
    if raw is None:
        outcome, info, raw = paid_call(
            ctx, plan, unit, 1, lambda token, _: ctx.client.user_info(token, task.username),
            endpoint="user_info",
        )
        path = storage.write_raw(plan, name, raw)
        store.mark_fetched(plan.id, unit)
    else:
        outcome, info = decode_user_body(raw)
        path = storage.source_dir(plan) / name
    ctx.quota.settle(plan.credential, plan.id, unit, 1)
    downloaded_at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    record = user_record(task.username, info, outcome, plan, downloaded_at)
    storage.write_records(plan, name, encode_records([record]))
    metrics.user_answered(plan.project, outcome)
    if store.user_done(plan.id, unit, task.username, outcome):
        harvest_finished(ctx, plan)
