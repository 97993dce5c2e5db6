"""Asking for follow-up chains of accounts: the follower lists and the liked, pinned and
reposted videos of the spec's accounts (at submission), and the follower lists of authors
(as pages find them, when asked), one chain per account and list, counted in the harvest
before it can end."""

from typing import Literal

import dramatiq

from core import messages
from core.harvests import Harvests
from schemas.messages import AccountVideosTask, FollowTask
from schemas.spec import HarvestPlan

# The follower lists' endpoints, by what `collect` names.
Direction = Literal["followers", "following"]
FOLLOW_ENDPOINTS: dict[Direction, str] = {"followers": "user_followers", "following": "user_following"}
Which = Literal["liked", "pinned", "reposted"]
# The video lists' endpoints, by what `collect` names.
VIDEO_LIST_ENDPOINTS: dict[str, tuple[Which, str]] = {
    "liked_videos": ("liked", "user_liked_videos"),
    "pinned_videos": ("pinned", "user_pinned_videos"),
    "reposted_videos": ("reposted", "user_reposted_videos"),
}


def request_account_lists(store: Harvests, broker: dramatiq.Broker, plan: HarvestPlan) -> None:
    """Every list the spec collects, of every account it names (at submission)."""
    request_follows(store, broker, plan, plan.accounts)
    for collected, (which, endpoint) in VIDEO_LIST_ENDPOINTS.items():
        if collected not in plan.collect:
            continue
        new = store.chains_not_requested(plan.id, endpoint, plan.accounts)
        for username in new:
            messages.send(broker, AccountVideosTask(harvest_id=plan.id, username=username, which=which))
        store.mark_chains_requested(plan.id, endpoint, new)


def request_follows(store: Harvests, broker: dramatiq.Broker, plan: HarvestPlan, accounts: list[str]) -> None:
    """Sent before they are marked requested: a crash in between only duplicates a message,
    which the lease on its unit drops."""
    for direction, endpoint in FOLLOW_ENDPOINTS.items():
        if direction not in plan.collect:
            continue
        new = store.chains_not_requested(plan.id, endpoint, accounts)
        for username in new:
            messages.send(broker, FollowTask(harvest_id=plan.id, username=username, direction=direction))
        store.mark_chains_requested(plan.id, endpoint, new)
