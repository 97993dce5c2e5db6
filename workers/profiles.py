"""Profiles reused across a project's harvests.

A profile answer is kept in Redis for HARVEST_PROFILE_FRESHNESS_HOURS (24 by default) after
it was downloaded; another harvest of the same project that needs the same account within
that time stores a copy of that answer (downloaded then) instead of calling TikTok again. In
a typical harvest profiles are most of the requests (280 of 348 for 5,300 videos by 280
authors), so this is the largest saving within reach. Kept per project: each project's
data comes from its own approved access, and a harvest never uses another's.

The answer is kept as received (a few hundred bytes; profiles hold no secret), with the time
it was downloaded, so a reused profile's counts say when they were true.
"""

import time

from core.keys import Keys
from schemas import usernames


def recent(redis, keys: Keys, project: str, username: str) -> tuple[bytes, float] | None:
    """(the answer as received, when it was downloaded), if one is fresh enough."""
    body, at = redis.hmget(keys.profile(project, usernames.escape(username)), "body", "at")
    if body is None or at is None:
        return None
    return body, float(at)


def keep(redis, keys: Keys, project: str, username: str, body: bytes, freshness_s: float) -> None:
    if freshness_s <= 0:
        return
    key = keys.profile(project, usernames.escape(username))
    with redis.pipeline(transaction=False) as pipe:
        pipe.hset(key, mapping={"body": body, "at": f"{time.time():.3f}"})
        pipe.expire(key, max(1, int(freshness_s)))
        pipe.execute()
