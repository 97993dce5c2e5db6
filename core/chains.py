"""Asking for follow-up chains: the follower lists of the spec's accounts (at submission)
and of authors (as pages find them), one chain per account and direction, counted in the
harvest before it can end."""

from typing import Literal

import dramatiq

from core import messages
from core.harvests import Harvests
from schemas.messages import FollowTask
from schemas.spec import HarvestPlan

# The follower lists' endpoints, by what `collect` names.
Direction = Literal["followers", "following"]
FOLLOW_ENDPOINTS: dict[Direction, str] = {"followers": "user_followers", "following": "user_following"}


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
