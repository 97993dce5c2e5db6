"""The follower lists on the journey (workers/journey.py): one page of an account's followers
(or of the accounts it follows) per unit; an account's pages form a chain.

The lists draw on a budget of their own (20,000 calls a day, besides the 1,000 research
requests). They are asked for the accounts the spec names (core/chains.py, at submission),
and for every author with `follows_of_every_author`. Each relation is stored once per
harvest as a FollowAction record. A private, unknown or restricted account is an answer
(its raw answer is kept, the chain ends), not an error. A chain ends where TikTok says there
is no more, where the time cursor stops moving back, or at the spec's limit.
"""

import datetime as dt

from core import messages
from core.chains import FOLLOW_ENDPOINTS, Direction
from schemas import usernames
from schemas.api import FollowBody, FollowPage
from schemas.messages import FollowTask
from schemas.spec import HarvestPlan
from workers import journey
from workers.calls import paid_call
from workers.context import WorkerContext
from workers.follow_records import follow_record, relation_id
from workers.journey import Endpoint, Work
from workers.quota import FOLLOWS
from workers.records import encode_records
from workers.storage import Storage
from workers.tiktok.client import decode_follow_body

PAGE_SIZE = 100
CLAIM_PREFIX = "f:"  # relations share the claims hash with videos and comments

Answer = tuple[str, FollowPage | None]  # (outcome, page): outcome ok, unknown, private or restricted


class FollowLists(Endpoint[FollowTask, Answer]):
    budget = FOLLOWS

    def __init__(self, direction: Direction):
        self.direction = direction
        self.name = FOLLOW_ENDPOINTS[direction]

    def raw_name(self, task: FollowTask) -> str:
        return Storage.follows_name(task.direction, task.username, task.page)

    def fetch(self, ctx: WorkerContext, work: Work, task: FollowTask) -> tuple[tuple[Answer, bytes], str]:
        want = PAGE_SIZE
        if work.plan.max_follows_per_account is not None:
            want = max(1, min(PAGE_SIZE, work.plan.max_follows_per_account - task.listed))
        username = usernames.normalise(task.username)

        def call(token: str, max_count: int):
            body = FollowBody(username=username, max_count=max_count, cursor=task.cursor)
            return ctx.client.user_follows(token, task.direction, body)

        (outcome, page, raw), paid_by = paid_call(ctx, work, want, call, endpoint=self.name, budget=self.budget)
        return ((outcome, page), raw), paid_by

    def decode(self, raw: bytes) -> Answer:
        return decode_follow_body(raw)

    def records_used(self, answer: Answer) -> int:
        return len(entries(answer, self.direction))

    def store(self, ctx: WorkerContext, work: Work, task: FollowTask, answer: Answer,
              downloaded_at: dt.datetime) -> int:
        account = usernames.normalise(task.username)
        pairs = []
        for entry in entries(answer, self.direction):
            if entry.username:  # an entry without a username names nobody
                other = usernames.normalise(entry.username)
                follower, followed = (other, account) if self.direction == "followers" else (account, other)
                pairs.append((follower, followed, entry))
        owned = ctx.store.claim(work.delivery, [CLAIM_PREFIX + relation_id(a, b) for a, b, _ in pairs])
        mine, seen = [], set()
        for (follower, followed, entry), is_mine in zip(pairs, owned, strict=True):
            key = relation_id(follower, followed)
            if is_mine and key not in seen:
                seen.add(key)
                mine.append(follow_record(follower, followed, entry, self.direction == "followers", work.plan))
        if mine:
            ctx.storage.write_records(work.plan, self.raw_name(task), encode_records(mine), fence=work.fence)
        return len(mine)

    def follow_up(self, ctx: WorkerContext, work: Work, task: FollowTask, answer: Answer) -> None:
        following = next_page(work.plan, task, answer, self.direction)
        if following is not None:
            messages.send(ctx.broker, following)

    def complete(self, ctx: WorkerContext, work: Work, task: FollowTask, answer: Answer, records: int) -> bool:
        ended = next_page(work.plan, task, answer, self.direction) is None
        if answer[0] != "ok":
            ctx.store.list_outcome(work.plan.id, self.name, usernames.normalise(task.username), answer[0])
        return ctx.store.chain_page_done(work.delivery, self.name, usernames.normalise(task.username), records,
                                         chain_ended=ended)


FOLLOWERS, FOLLOWING = FollowLists("followers"), FollowLists("following")
ENDPOINTS: dict[str, FollowLists] = {"followers": FOLLOWERS, "following": FOLLOWING}


def handle_follows(ctx: WorkerContext, task: FollowTask, token: str, retries: int, *, predecessor: str = "") -> None:
    journey.run(ctx, ENDPOINTS[task.direction], task, task.unit, task.harvest_id, token, retries, predecessor)


def entries(answer: Answer, direction: str) -> list:
    page = answer[1]
    if page is None:
        return []
    return page.user_followers if direction == "followers" else page.user_following


def next_page(plan: HarvestPlan, task: FollowTask, answer: Answer, direction: str) -> FollowTask | None:
    """The chain's next page, or None where it ends. The cursor is a time going back: one
    that does not move back would loop for ever."""
    page = answer[1]
    if page is None or not page.has_more or page.cursor is None:
        return None
    if task.cursor is not None and page.cursor >= task.cursor:
        return None
    listed = task.listed + len(entries(answer, direction))
    if plan.max_follows_per_account is not None and listed >= plan.max_follows_per_account:
        return None
    return FollowTask(harvest_id=task.harvest_id, username=task.username, direction=task.direction,
                      page=task.page + 1, cursor=page.cursor, listed=listed)
