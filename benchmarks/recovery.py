"""How long a SIGKILLed worker's messages stay stranded before another worker gets them."""

import os
import signal
import time

import redis

from benchmarks.fleet_run import Bench, wait_for_workers
from core.keys import Keys
from core.messages import producer_broker
from harvest_cli.processes import Fleet
from producers.submission import prepare, start
from workers.progress import HarvestStore


def measure_recovery(bench: Bench, spec: dict) -> tuple[float, float]:
    """Kill the only worker mid-harvest, start another; returns (seconds until the dead
    worker's unacknowledged messages were back on the queue, seconds until the harvest was done)."""
    namespace, settings, env = bench.namespace()
    client = redis.Redis.from_url(bench.redis_url)
    store = HarvestStore(client, Keys(namespace))
    heartbeats = f"{namespace}:__heartbeats__"
    fleets = []
    try:
        first = Fleet(env, processes=1, threads=4, log_path=bench.workdir / f"{namespace}-a.log").start()
        fleets.append(first)
        (pid,) = wait_for_workers(first, 1)
        plan = prepare(spec, settings)
        start(plan, settings, producer_broker(settings, client), redis=client)
        while store.registered_status(plan.id).pages < 5:
            time.sleep(0.01)
        # The killed worker is the one holding messages (producers heartbeat too).
        holders = {key.decode().split("__acks__.", 1)[1].split(".", 1)[0]
                   for key in client.scan_iter(match=f"{namespace}:__acks__.*") if client.scard(key)}
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        fleets.append(Fleet(env, processes=1, threads=4, log_path=bench.workdir / f"{namespace}-b.log").start())
        # Dramatiq drops a dead worker from its heartbeats once its messages are requeued.
        while any(client.zscore(heartbeats, dead) is not None for dead in holders):
            time.sleep(0.05)
        recovered = time.monotonic() - killed_at
        while store.registered_status(plan.id).state != "done":
            time.sleep(0.05)
        return recovered, time.monotonic() - killed_at
    finally:
        for fleet in fleets:
            fleet.stop()
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            client.delete(key)
