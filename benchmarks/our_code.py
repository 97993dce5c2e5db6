"""CPU per page spent in the project's own code, apart from the libraries it calls.

Runs one harvest's pages in this process, one after another (no Dramatiq worker), against
the simulator; measures CPU per page without a profiler, then with cProfile to split it
between our modules (schemas/, producers/, workers/) and everything else (httpx, redis-py,
msgspec, the standard library). The profiler's own overhead is spread by that share.
"""

import cProfile
import pstats
import time
import uuid
from pathlib import Path

import msgspec
import redis

from core.config import Settings
from core.messages import producer_broker
from producers.submission import prepare, start
from schemas.messages import PageTask
from workers.context import build_context
from workers.pages import handle_page

ROOT = Path(__file__).resolve().parent.parent
OURS = tuple(str(ROOT / package) for package in ("schemas", "producers", "workers"))


def drain_pages(ctx, client, namespace: str) -> int:
    """Handle every page message of the queue in this process; returns how many."""
    handled = 0
    while (message_id := client.lpop(f"{namespace}:pages")) is not None:
        message = msgspec.json.decode(client.hget(f"{namespace}:pages.msgs", message_id))
        handle_page(ctx, msgspec.convert(message["args"][0], PageTask), message["message_id"], 0)
        client.hdel(f"{namespace}:pages.msgs", message_id)
        handled += 1
    return handled


def run_once(bench, spec: dict, profiler: cProfile.Profile | None) -> tuple[int, float]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=bench.redis_url, api_base_url=bench.api_url, data_dir=bench.workdir / namespace,
                        credentials_file=bench.credentials, namespace=namespace, metrics_port=0)
    client = redis.Redis.from_url(bench.redis_url)
    broker = producer_broker(settings, client)
    ctx = build_context(settings, broker, redis=client)
    try:
        start(prepare(spec, settings), settings, broker, redis=client)
        began = time.process_time()
        if profiler:
            profiler.enable()
        pages = drain_pages(ctx, client, namespace)
        if profiler:
            profiler.disable()
        return pages, time.process_time() - began
    finally:
        ctx.close()
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            client.delete(key)


# Round trips drain_pages itself makes per page (LPOP, HGET, HDEL): not the handler's.
HARNESS_ROUND_TRIPS = 3


def measure_our_code(bench, spec: dict) -> tuple[float, float, float]:
    """(CPU ms per page in this process, of which ms in our own modules, Redis round trips
    per page made by the page handler)."""
    pages, cpu = run_once(bench, spec | {"id": "bench_cpu_plain"}, None)
    profiler = cProfile.Profile()
    profiled_pages, _ = run_once(bench, spec | {"id": "bench_cpu_profiled"}, profiler)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # undocumented, not in the stubs
    total = sum(entry[2] for entry in stats.values())  # tottime of every function
    ours = sum(entry[2] for (filename, _, _), entry in stats.items() if filename.startswith(OURS))
    sends = sum(entry[1] for (filename, _, name), entry in stats.items()
                if name == "send_packed_command" and filename.endswith("redis/connection.py"))
    per_page = 1000 * cpu / pages
    return per_page, per_page * ours / total, sends / profiled_pages - HARNESS_ROUND_TRIPS
