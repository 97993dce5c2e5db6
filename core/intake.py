"""Answers to intake requests: written by the workers, read by the services that published
them (or with `redis-cli GET`). The contract is in ops/intake/README.md."""

import re
import time

import msgspec

from core.keys import Keys
from schemas.messages import REQUEST_ID_PATTERN, IntakeReply, IntakeRequest

REPLY_TTL_S = 7 * 86400
# Whole-string match: Python's `$` would let a final newline through.
REQUEST_ID = re.compile(REQUEST_ID_PATTERN.removeprefix("^").removesuffix("$"))


def valid_request_id(request_id: str) -> bool:
    """A request id becomes part of a Redis key: characters no shell or key pattern minds."""
    return bool(request_id) and REQUEST_ID.fullmatch(request_id) is not None


def reply(redis, keys: Keys, request_id: str, request: IntakeRequest, *, refused: str | None = None,
          **fields) -> IntakeReply:
    """Write the answer (a redelivered request writes the same answer again)."""
    answer = IntakeReply(request_id=request_id, request=request, outcome="refused" if refused else "accepted",
                         answered_at=round(time.time(), 3), reason=refused, **fields)
    redis.set(keys.intake_reply(request_id), msgspec.json.encode(answer), ex=REPLY_TTL_S)
    return answer


def read_reply(redis, keys: Keys, request_id: str) -> IntakeReply | None:
    raw = redis.get(keys.intake_reply(request_id))
    return msgspec.json.decode(raw, type=IntakeReply) if raw is not None else None


def wait_for_reply(redis, keys: Keys, request_id: str, timeout_s: float = 30.0,
                   interval_s: float = 0.2) -> IntakeReply | None:
    """The answer once the workers wrote it; None when none came within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = read_reply(redis, keys, request_id)
        if answer is not None or time.monotonic() >= deadline:
            return answer
        time.sleep(interval_s)
