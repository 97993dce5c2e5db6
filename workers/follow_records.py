"""Follow relations -> iCANDID schema.org JSON-LD records (pure functions, like records.py).

One record per relation, its `@id` made of the two accounts' escaped names, so the same
relation met twice (as A's follower and as F's following, or on two pages) is one record.
The accounts are references to their `Person` records (`@id`, username, profile URL), with
the display name the list gave.
"""

import msgspec

from schemas import usernames
from schemas.api import Follow
from schemas.relations import FollowRecord
from schemas.spec import HarvestPlan
from workers.records import ADDITIONAL_TYPE, ID_PREFIX, based_on, clean, context, person_ref

FOLLOW_ID_PREFIX = f"{ID_PREFIX}follow_"


def relation_id(follower: str, followed: str) -> str:
    """Escaped names joined by `~`, which escaping never writes: unambiguous."""
    return f"{usernames.escape(usernames.normalise(follower))}~{usernames.escape(usernames.normalise(followed))}"


def follow_record(follower: str, followed: str, listed: Follow, listed_is_follower: bool,
                  plan: HarvestPlan) -> FollowRecord:
    """`listed`: the entry of the list (its display name goes to that side's reference)."""
    agent, obj = person_ref(follower), person_ref(followed)
    display = clean(listed.display_name)
    if display:
        named = msgspec.structs.replace(agent if listed_is_follower else obj, name=display)
        agent, obj = (named, obj) if listed_is_follower else (agent, named)
    return FollowRecord(
        context=context(display),
        id=f"{FOLLOW_ID_PREFIX}{relation_id(follower, followed)}",
        additionalType=ADDITIONAL_TYPE,
        agent=agent,
        object=obj,
        isBasedOn=based_on(plan),
    )


