"""The queues as Dramatiq's Redis broker keeps them, and our dead letters.

Dramatiq's keys (`<namespace>:` prefix): `<queue>` a list of message ids ready to fetch,
oldest first; `<queue>.msgs` a hash id -> message; `<queue>.DQ` and `<queue>.DQ.msgs` the same
for delayed messages (parked for quota, retry back-offs), which a worker fetches early and holds
until their time; `__acks__.<worker id>.<queue>` a set per worker of the messages it fetched
and has not acknowledged; `__heartbeats__` worker id -> last heartbeat (ms).
"""

import time
from dataclasses import dataclass

import msgspec
from dramatiq.common import dq_name

from core.keys import Keys
from core.messages import ROUTES

# Head entries read per queue to find the oldest message that is still there (an id at the
# head may have been acknowledged a moment ago).
HEAD_PROBE = 5
# Letters decoded per round trip the first time they are seen (cached by id afterwards).
LETTERS_PER_READ = 500


@dataclass(frozen=True)
class QueueReading:
    queue: str
    ready: int  # waiting to be fetched
    delayed: int  # waiting for their time, held by a worker or not
    in_flight: int  # fetched by a worker (live or dead), not acknowledged
    oldest_age_s: float  # since the oldest ready message became ready; 0 when none waits


@dataclass(frozen=True)
class WorkerReading:
    live: int  # heartbeat within the dead-worker timeout
    dead: int  # silent longer: their unacknowledged messages are about to be handed back


class _Head(msgspec.Struct):
    """The fields of a Dramatiq message that tell when it became ready."""

    message_timestamp: int = 0  # ms, when it was first sent
    options: dict = msgspec.field(default_factory=dict)  # "eta" (ms) once it went through the delay queue


class _LetterRoute(msgspec.Struct):
    queue_name: str = ""
    actor_name: str = ""


def queue_names() -> list[str]:
    return sorted({queue for queue, _ in ROUTES.values()})


def actor_routes() -> list[tuple[str, str]]:
    """(queue, actor) of every actor."""
    return sorted(set(ROUTES.values()))


def read_workers(redis, keys: Keys, dead_after_s: float, now: float | None = None) -> tuple[WorkerReading, list[str]]:
    """Live and dead workers, and every worker id that may still hold messages."""
    now_ms = (time.time() if now is None else now) * 1000
    heartbeats = f"{keys.namespace}:__heartbeats__"
    with redis.pipeline(transaction=False) as pipe:
        pipe.zrange(heartbeats, 0, -1)
        pipe.zcount(heartbeats, now_ms - dead_after_s * 1000, "+inf")
        members, live = pipe.execute()
    ids = [member.decode() for member in members]
    return WorkerReading(live=int(live), dead=len(ids) - int(live)), ids


def read_queues(redis, keys: Keys, worker_ids: list[str], now: float | None = None) -> list[QueueReading]:
    """Every queue's counts: one pipeline for the counts and heads, one for the head messages."""
    now = time.time() if now is None else now
    ns, names = keys.namespace, queue_names()
    with redis.pipeline(transaction=False) as pipe:
        for queue in names:
            pipe.llen(f"{ns}:{queue}")
            pipe.hlen(f"{ns}:{dq_name(queue)}.msgs")
            pipe.lrange(f"{ns}:{queue}", 0, HEAD_PROBE - 1)
            for worker in worker_ids:
                pipe.scard(f"{ns}:__acks__.{worker}.{queue}")
        answers = iter(pipe.execute())
        counts = []
        for queue in names:
            ready, delayed, head = next(answers), next(answers), next(answers)
            in_flight = sum(next(answers) for _ in worker_ids)
            counts.append((queue, int(ready), int(delayed), int(in_flight), head))
    with redis.pipeline(transaction=False) as pipe:
        waiting = [(queue, head) for queue, *_, head in counts if head]
        for queue, head in waiting:
            pipe.hmget(f"{ns}:{queue}.msgs", head)
        ages = {queue: _oldest_age(bodies, now) for (queue, _), bodies in zip(waiting, pipe.execute(), strict=True)}
    return [QueueReading(queue, ready, delayed, in_flight, ages.get(queue, 0.0))
            for queue, ready, delayed, in_flight, _ in counts]


def _oldest_age(bodies: list[bytes | None], now: float) -> float:
    for body in bodies:
        if body is None:
            continue
        try:
            head = msgspec.json.decode(body, type=_Head)
        except msgspec.DecodeError:
            continue  # not a message we can read: try the next one
        ready_ms = max(head.message_timestamp, int(head.options.get("eta") or 0))
        return max(0.0, round(now - ready_ms / 1000, 3))
    return 0.0


class DeadLetterCounts:
    """Our dead letters (workers/middleware/dead_letters.py) counted by queue and actor.

    A letter never changes, so its route is cached by id: a scrape reads the ids (HKEYS) and
    decodes only the letters it has not seen before."""

    def __init__(self) -> None:
        self._routes: dict[bytes, tuple[str, str]] = {}

    def read(self, redis, keys: Keys) -> dict[tuple[str, str], int]:
        ids = redis.hkeys(keys.dead_letters)
        unseen = [letter_id for letter_id in ids if letter_id not in self._routes]
        for start in range(0, len(unseen), LETTERS_PER_READ):
            chunk = unseen[start:start + LETTERS_PER_READ]
            for letter_id, body in zip(chunk, redis.hmget(keys.dead_letters, chunk), strict=True):
                if body is not None:
                    letter = msgspec.json.decode(body, type=_LetterRoute)
                    self._routes[letter_id] = (letter.queue_name, letter.actor_name)
        present = set(ids)
        self._routes = {letter_id: route for letter_id, route in self._routes.items() if letter_id in present}
        counts = dict.fromkeys(actor_routes(), 0)
        for queue_and_actor in self._routes.values():
            counts[queue_and_actor] = counts.get(queue_and_actor, 0) + 1
        return counts
