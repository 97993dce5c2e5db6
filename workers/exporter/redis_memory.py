"""Redis's own memory figures (INFO): a full Redis under noeviction refuses writes and stalls
the fleet, and an evicting one loses harvest state (ops/README.md, Redis)."""

from dataclasses import dataclass

import redis as redis_lib


@dataclass(frozen=True)
class MemoryReading:
    used_bytes: int
    max_bytes: int  # 0: no limit set
    evicted_keys: int  # since Redis started


def read_memory(redis) -> MemoryReading | None:
    """None where INFO is refused (renamed or disabled on some managed Redis)."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            pipe.info("memory")
            pipe.info("stats")
            memory, stats = pipe.execute()
    except redis_lib.ResponseError:
        return None
    return MemoryReading(int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0)),
                         int(stats.get("evicted_keys", 0)))
