"""The user info endpoint on the journey (workers/journey.py): one author's profile per unit.

Unknown, private and restricted accounts are answers, recorded as such, not errors. A name
no account can have (blank, or holding NUL or other control characters) is recorded as
unknown without a request.
"""

import datetime as dt

import structlog

from schemas import usernames
from schemas.api import UserInfo
from schemas.messages import UserTask
from workers import journey, metrics, profiles
from workers.calls import paid_call
from workers.context import WorkerContext
from workers.journey import Endpoint, Work
from workers.records import encode_records, user_record
from workers.storage import Storage
from workers.tiktok.client import decode_user_body

log = structlog.get_logger(__name__)

Profile = tuple[str, UserInfo | None]  # (outcome, profile): outcome ok, unknown, private or restricted


class UserProfiles(Endpoint[UserTask, Profile]):
    name = "user_info"

    def raw_name(self, task: UserTask) -> str:
        return Storage.user_name(usernames.normalise(task.username))

    def known_without_asking(self, work: Work, task: UserTask) -> Profile | None:
        username = usernames.normalise(task.username)
        if usernames.could_exist(username):
            return None
        # TikTok could only answer "cannot find the user", and asking would spend quota.
        log.warning("username_not_requested", harvest=work.plan.id, username=usernames.escape(username))
        return "unknown", None

    def recent_answer(self, ctx: WorkerContext, work: Work, task: UserTask) -> tuple[bytes, float] | None:
        if ctx.settings.profile_freshness_hours <= 0:
            return None
        return profiles.recent(ctx.redis, ctx.keys, work.plan.project, usernames.normalise(task.username))

    def keep_answer(self, ctx: WorkerContext, work: Work, task: UserTask, raw: bytes) -> None:
        profiles.keep(ctx.redis, ctx.keys, work.plan.project, usernames.normalise(task.username), raw,
                      ctx.settings.profile_freshness_hours * 3600)

    def fetch(self, ctx: WorkerContext, work: Work, task: UserTask) -> tuple[tuple[Profile, bytes], str]:
        username = usernames.normalise(task.username)
        (outcome, info, raw), paid_by = paid_call(
            ctx, work, 1, lambda token, _: ctx.client.user_info(token, username), endpoint=self.name)
        return ((outcome, info), raw), paid_by

    def decode(self, raw: bytes) -> Profile:
        return decode_user_body(raw)

    def records_used(self, answer: Profile) -> int:
        return 1

    def store(self, ctx: WorkerContext, work: Work, task: UserTask, answer: Profile,
              downloaded_at: dt.datetime) -> int:
        username = usernames.normalise(task.username)  # the form the unit, files and records use
        record = user_record(username, answer[1], answer[0], work.plan, downloaded_at)
        ctx.storage.write_records(work.plan, self.raw_name(task), encode_records([record]), fence=work.fence)
        return 1

    def complete(self, ctx: WorkerContext, work: Work, task: UserTask, answer: Profile, records: int) -> bool:
        metrics.user_answered(work.plan.project, answer[0])
        return ctx.store.user_done(work.delivery, usernames.normalise(task.username), answer[0])


PROFILES = UserProfiles()


def handle_user(ctx: WorkerContext, task: UserTask, token: str, retries: int = 0, *, predecessor: str = "") -> None:
    journey.run(ctx, PROFILES, task, task.unit, task.harvest_id, token, retries, predecessor)
