"""What a harvest keeps in Redis: MEMORY USAGE summed over its keys while it runs, when it is
done, and once the per-video claims' day of grace is over (what stays for the retention)."""

import time
from dataclasses import dataclass

import redis

from benchmarks.fleet_run import Bench, wait_for_workers
from core.keys import Keys
from core.messages import producer_broker
from harvest_cli.processes import Fleet
from producers.submission import prepare, start
from workers.progress import HarvestStore


@dataclass
class MemoryResult:
    pages: int
    records: int
    users: int
    running_bytes: int  # the largest sample while the harvest ran
    running_pages: int  # pages done at that sample
    done_bytes: int  # right after finishing: everything
    claims_bytes: int  # of which the per-video claims and stored-answer notes (gone after a day)
    keys_without_expiry: int  # after finishing: should be none


def harvest_bytes(client, keys: Keys, harvest: str) -> dict[str, int]:
    """Key (without the harvest's prefix) -> bytes Redis uses for it, exactly (SAMPLES 0)."""
    prefix = keys.harvest_keys_pattern(harvest)[:-1]
    return {key.decode()[len(prefix):]: client.memory_usage(key, samples=0) or 0
            for key in client.scan_iter(match=f"{prefix}*", count=1000)}


def measure_redis_memory(bench: Bench, spec: dict, *, processes: int = 2, threads: int = 4) -> MemoryResult:
    namespace, settings, env = bench.namespace()
    client = redis.Redis.from_url(bench.redis_url)
    keys = Keys(namespace)
    store = HarvestStore(client, keys)
    fleet = Fleet(env, processes=processes, threads=threads, log_path=bench.workdir / f"{namespace}.log").start()
    try:
        wait_for_workers(fleet, processes)
        plan = prepare(spec, settings)
        start(plan, settings, producer_broker(settings, client), redis=client)
        running_bytes = running_pages = 0
        while (status := store.registered_status(plan.id)).state != "done":
            if status.state == "failed" or not fleet.alive():
                raise RuntimeError(f"the harvest did not finish; see {fleet.log_path}")
            sample = sum(harvest_bytes(client, keys, plan.id).values())
            if sample > running_bytes:
                running_bytes, running_pages = sample, status.pages
            time.sleep(0.05)
        done = harvest_bytes(client, keys, plan.id)
        claims = done.get("owner", 0) + done.get("fetched", 0)
        prefix = keys.harvest_keys_pattern(plan.id)[:-1]
        persistent = sum(1 for name in done if client.ttl(prefix + name) == -1)
        return MemoryResult(status.pages, status.records, status.users_done, running_bytes, running_pages,
                            sum(done.values()), claims, persistent)
    finally:
        fleet.stop()
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            client.delete(key)
