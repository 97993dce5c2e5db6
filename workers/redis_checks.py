"""What the fleet needs of the Redis it runs on, checked before workers start.

Leases, quota buckets, tokens and per-day counters carry expiries; a Redis allowed to evict
keys under memory pressure could drop a lease (two deliveries doing one unit), a bucket (a
day's quota spent twice) or a queued message (a page never fetched). So eviction must be
off. Persistence is recommended (ops/README.md) but not required: a Redis that loses its
data on restart loses the harvests in flight, not their correctness.
"""

import redis


def eviction_problem(client: redis.Redis) -> str | None:
    """Why this Redis may evict keys, or None when it may not."""
    policy = _setting(client, "maxmemory-policy", "maxmemory_policy")
    if policy in (None, "noeviction"):
        return None
    return (f"Redis may evict keys under memory pressure (maxmemory-policy is {policy!r}); the harvester needs "
            f"'noeviction': set `maxmemory-policy noeviction` in redis.conf (see ops/README.md, Redis)")


def persistence_note(client: redis.Redis) -> str | None:
    """A warning when this Redis keeps nothing on disk, or None."""
    aof = _setting(client, "appendonly", "aof_enabled")
    save = _setting(client, "save", None)
    if aof in ("yes", "1") or save:
        return None
    return ("Redis keeps nothing on disk (no append-only file, no snapshots): a Redis restart loses every harvest "
            "in flight; see ops/README.md, Redis")


def _setting(client: redis.Redis, config_name: str, info_name: str | None) -> str | None:
    """A setting from CONFIG GET, or from INFO where a managed Redis disables CONFIG."""
    try:
        value = client.config_get(config_name).get(config_name)
    except redis.ResponseError:
        value = None
    if value is None and info_name:
        section = "persistence" if info_name == "aof_enabled" else "memory"
        found = client.info(section).get(info_name)
        value = None if found is None else str(found)
    return value
