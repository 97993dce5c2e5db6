"""One rewriter at a time over a harvest's stored pages.

Two steps rewrite page files that are already in place: expanding the authors when a harvest
finishes (or an ongoing one catches up again) and moving the records of videos found gone at
the end of a compliance refresh. For an ongoing harvest they may meet, and an expansion that
read a page before the removal rewrote it would put the gone videos back. Each takes this
hold first; one that finds it taken is put off (`Busy`) and finishes a little later (both
are safe to repeat). A hold whose process died lapses after HOLD_S.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from workers.lease import Busy

HOLD_S = 1800  # far longer than rewriting the pages of a large harvest takes
RETRY_S = 5.0

# Let go of the hold only if it is still this holder's.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@contextmanager
def records_held(redis, key: str) -> Iterator[None]:
    token = uuid.uuid4().hex
    if not redis.set(key, token, nx=True, ex=HOLD_S):
        raise Busy(RETRY_S)
    try:
        yield
    finally:
        redis.eval(RELEASE, 1, key, token)
