"""Prints the harvester's speed against the simulator:

1. zero API latency, videos only: pages/s and records/s with 1 and 2 worker processes, CPU
   milliseconds per API call spent in the worker processes (our code, Dramatiq, httpx; the
   simulator runs in a process of its own), worker memory, requests per 100 records, and
   the CPU per page spent in our own modules, Redis commands per page (Dramatiq's included);
2. the same with authors' profiles (requests per 100 records including user-info calls);
   comments: requests against the least possible (ceil(min(comments, cap)/100) per video),
   comments/s, CPU per page;
3. 300 ms API latency: a fleet of 2 processes × 4 threads against one sequential client
   doing the same requests;
4. recovery: how long a SIGKILLed worker's messages wait before another worker gets them;
5. finishing: expanding the authors into the video records of a 100,000-video harvest;
6. Redis memory: the bytes a harvest's keys take while it runs, when it is done, and what
   stays for the retention once the per-video claims have expired;
7. quota efficiency: a slow and an eager harvest sharing a key from noon to midnight (the
   bucket's clock simulated): the day's budget used while work is queued, and the bucket
   calls a parked message makes per minute;
8. threads: 2 processes with 4, 8, 16 and 32 threads at 300 ms of latency against the
   sequential client, and the midnight burst of 50 keys (benchmarks/threads.py);
9. the compliance refresh: requests per 10,000 stored videos, for a dense harvest and a
   sparse one (benchmarks/refresh.py);
10. quota efficiency on mixed specs (dense, sparse, empty months, very active accounts) sharing
   one key across a midnight: requests against the least possible, the first day's budget
   used, TikTok's 429s (benchmarks/mixed_quota.py).
"""

import os
import sys
import tempfile
from pathlib import Path

from benchmarks.comments import measure_comments
from benchmarks.finishing import measure_finishing
from benchmarks.fleet_run import Bench
from benchmarks.language import measure_language
from benchmarks.mixed_quota import LIMIT, measure_mixed_quota
from benchmarks.our_code import measure_our_code
from benchmarks.quota_efficiency import DAY_LIMIT, ROUND_TRIPS_PER_WAKE, measure_quota_efficiency
from benchmarks.recovery import measure_recovery
from benchmarks.redis_memory import measure_redis_memory
from benchmarks.refresh import measure_refresh
from benchmarks.sequential import sequential_harvest
from benchmarks.threads import KEYS, PER_KEY, measure_burst, measure_threads
from core.config import Settings
from core.logs import configure_logging

# Six big regions over 2024: about 260 pages of 100 videos in 12 windows.
VIDEOS_SPEC = {"id": "bench_videos", "project": "bench", "collect": ["videos"], "period": "20240101-20241231",
               "query": {"or": [{"field_name": "region_code", "operation": "IN",
                                 "field_values": ["BE", "NL", "FR", "DE", "US", "GB"]}]}}
USERS_SPEC = {"id": "bench_users", "project": "bench", "accounts": ["vrtnws", "hln_be"], "keywords": ["klimaat"],
              "regions": ["BE", "NL"], "period": "20240101-20240630"}
# The comments of a month of the demo query: ~730 videos, ~500 with comments, ~32,500 comments.
COMMENTS_SPEC = dict(USERS_SPEC, id="bench_comments", period="20240601-20240630", collect=["videos", "comments"])
# One month of the demo query: ~1,000 videos, ~250 authors, ~270 requests.
LATENCY_SPEC = dict(USERS_SPEC, id="bench_latency", period="20240601-20240630")
# A compliance refresh of a dense harvest (the videos spec) and of a sparse one: one account,
# two to four videos a day, so the API's 30-day window, not 100 ids, closes its batches.
SPARSE_SPEC = {"id": "bench_refresh_sparse", "project": "bench", "accounts": ["hln_be"], "collect": ["videos"],
               "period": "20240101-20241231"}


def line(label: str, value: str) -> None:
    print(f"  {label:<44}{value}")


def main() -> int:
    configure_logging("WARNING")  # the numbers alone on stdout
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    with tempfile.TemporaryDirectory(prefix="tiktok-bench-") as tmp:
        bench = Bench(Path(tmp), redis_url)
        try:
            print("Zero latency, videos only (12 windows of the six biggest regions in 2024)")
            for processes in (1, 2):
                r = bench.run(VIDEOS_SPEC, processes=processes, threads=4)
                print(f" {processes} worker process(es) x 4 threads:")
                line("wall time", f"{r.seconds:.2f} s for {r.pages} pages, {r.records:,} records")
                line("pages/s", f"{r.pages / r.seconds:.1f}")
                line("records/s", f"{r.records / r.seconds:,.0f}")
                line("worker CPU per page", f"{1000 * r.worker_cpu_s / r.calls:.1f} ms")
                line("worker memory (RSS, all processes)", f"{r.worker_rss_mib:.0f} MiB")
                line("requests per 100 records", f"{100 * r.requests / r.records:.2f}")
                line("Redis commands per page", f"{r.redis_commands / r.calls:.1f}")

            per_page, ours, round_trips = measure_our_code(bench, VIDEOS_SPEC)
            print(" one process, pages handled one after another (no Dramatiq), profiled:")
            line("CPU per page", f"{per_page:.1f} ms")
            line("of which in our own modules", f"{ours:.1f} ms (the rest: httpx, redis-py, msgspec, stdlib)")
            line("Redis round trips per page (the handler's)", f"{round_trips:.1f}")
            line("of a record, telling its text's language", f"{measure_language():.3f} ms CPU a text")

            print("Zero latency, videos and authors (the demo spec: six months)")
            r = bench.run(USERS_SPEC, processes=2, threads=4)
            line("wall time", f"{r.seconds:.2f} s: {r.pages} pages, {r.users} authors, {r.records:,} records")
            line("API calls/s", f"{r.calls / r.seconds:.1f}")
            line("worker CPU per call", f"{1000 * r.worker_cpu_s / r.calls:.1f} ms")
            line("requests per 100 records (videos + authors)", f"{100 * r.requests / r.records:.2f}")
            line("Redis commands per API call", f"{r.redis_commands / r.calls:.1f}")

            print("Zero latency, comments (the demo query over June 2024, videos and their comments)")
            c = measure_comments(bench, COMMENTS_SPEC)
            line("wall time", f"{c.seconds:.2f} s: {c.comments:,} comments of {c.videos_with_comments} videos")
            line("comment requests / the least possible", f"{c.comment_requests:,} / {c.lower_bound:,}")
            line("comments/s", f"{c.comments / c.seconds:,.0f}")
            line("worker CPU per page", f"{c.worker_cpu_ms_per_page:.1f} ms")

            print("Redis memory of a harvest (MEMORY USAGE summed over its keys)")
            for label, spec in (("the demo spec, with authors", USERS_SPEC), ("videos only", VIDEOS_SPEC)):
                m = measure_redis_memory(bench, spec | {"id": f"bench_memory_{spec['id']}"})
                kept = m.done_bytes - m.claims_bytes
                print(f" {label}: {m.pages} pages, {m.records:,} videos, {m.users} authors")
                line("while running (largest sample)", f"{m.running_bytes / 1024:,.0f} KiB at {m.running_pages} pages")
                line("done", f"{m.done_bytes / 1024:,.0f} KiB, {m.done_bytes / m.pages:,.0f} bytes per page")
                line("of which claims (expire after a day)", f"{m.claims_bytes / 1024:,.0f} KiB, "
                                                             f"{m.claims_bytes / m.records:.0f} bytes per video")
                line("kept for the retention", f"{kept / 1024:,.0f} KiB, {kept / m.pages:,.0f} bytes per page"
                                               + (f", {kept / m.users:,.0f} per author" if m.users else ""))
                line("keys without an expiry once done", f"{m.keys_without_expiry}")

            print("300 ms API latency (the demo query over June 2024, with authors)")
            bench.set_latency(300)
            fleet = bench.run(LATENCY_SPEC, processes=2, threads=4)
            settings = Settings(api_base_url=bench.api_url, credentials_file=bench.credentials, metrics_port=0)
            seq_seconds, seq_requests = sequential_harvest(LATENCY_SPEC, settings)
            line("fleet, 2 processes x 4 threads", f"{fleet.seconds:.1f} s for {fleet.requests} requests")
            line("one sequential client", f"{seq_seconds:.1f} s for {seq_requests} requests")
            line("speed-up", f"{seq_seconds / fleet.seconds:.1f}x")
            print(" threads per process (2 processes, the same harvest):")
            for threads in (4, 8, 16, 32):
                t = measure_threads(bench, LATENCY_SPEC, threads)
                line(f"{threads} threads", f"{t.seconds:.1f} s ({seq_seconds / t.seconds:.1f}x), worker CPU "
                                           f"{t.worker_cpu_s:.1f} s, {t.worker_rss_mib:.0f} MiB, "
                                           f"{t.redis_commands_per_call:.0f} Redis commands per call")

            bench.set_latency(0)
            print("Compliance refresh (5% of the stored videos deleted on TikTok since the harvest)")
            for label, spec in (("dense: six regions over 2024", VIDEOS_SPEC), ("sparse: one account over 2024",
                                                                               SPARSE_SPEC)):
                f = measure_refresh(bench, spec | {"id": f"bench_refresh_{spec['id']}"})
                line(f"{label}", f"{f.requests:,} requests for {f.videos:,} stored videos, {f.gone:,} gone, "
                                 f"{f.seconds:.1f} s")
                line("requests per 10,000 stored videos", f"{f.per_10k:.0f}")
            bench.set_latency(300)

            print("Recovery after kill -9 (300 ms latency, the only worker killed mid-harvest)")
            recovered, finished = measure_recovery(bench, LATENCY_SPEC | {"id": "bench_recovery"})
            line("its messages back on the queue after", f"{recovered:.1f} s")
            line("harvest done after", f"{finished:.1f} s")
        finally:
            bench.close()
        print("Quota efficiency: a slow harvest (one call every 2 min) and an eager one share a key, noon to midnight")
        q = measure_quota_efficiency(redis_url)
        line("the day's budget used while work was queued",
             f"{100 * q.used / DAY_LIMIT:.1f}% ({q.slow} slow, {q.eager} eager)")
        line("bucket calls per parked message per minute", f"{q.takes_per_parked_minute:.1f} "
                                                           f"(~{q.takes_per_parked_minute * ROUND_TRIPS_PER_WAKE:.0f} "
                                                           "Redis round trips)")
        line("simulated in", f"{q.seconds:.0f} s")
        print(f"Quota efficiency, mixed specs on one key of {LIMIT} requests a day, across a midnight "
              "(2 processes x 16 threads)")
        mixed = measure_mixed_quota(Path(tmp), redis_url)
        line("requests against the least possible", f"{mixed.requests} / {mixed.lower_bound} "
             f"(+{100 * (mixed.requests - mixed.lower_bound) / mixed.lower_bound:.1f}%): "
             + ", ".join(f"{name.removeprefix('mixed_')} {spent}/{least}"
                         for name, (spent, least) in mixed.per_harvest.items()))
        line("the first day's budget used while work was queued", f"{100 * mixed.first_day_used / LIMIT:.1f}%")
        line("429s from TikTok (requests over its limit)", f"{mixed.status_429}")
        line("all four done after", f"{mixed.seconds:.0f} s")
        print(f"Midnight burst: {KEYS} keys, each with a day of work ({PER_KEY} requests a key here), 300 ms "
              "latency, 2 processes; parked until 00:00 UTC, times from midnight")
        burst_spec = LATENCY_SPEC | {"period": "20240101-20240630"}
        b = measure_burst(Path(tmp), redis_url, burst_spec, 16, at_midnight=True)
        line("16 threads: every key's day spent after", f"{b.all_spent_s:.1f} s (the last key's first request "
             f"after {b.last_first_request_s:.1f} s; days ended {b.spent_spread_s:.1f} s apart; worker CPU "
             f"{b.worker_cpu_s:.0f} s)")
        print("  the same work queued in the order of its projects, met by a fleet started late (times from its start)")
        for threads in (8, 16, 32):
            b = measure_burst(Path(tmp), redis_url, burst_spec, threads)
            line(f"{threads} threads: every key's day spent after", f"{b.all_spent_s:.1f} s (the last key's first "
                 f"request after {b.last_first_request_s:.1f} s; days ended {b.spent_spread_s:.1f} s apart; "
                 f"worker CPU {b.worker_cpu_s:.0f} s)")
        print("Finishing: authors expanded into 1,000 pages of video records (100,000 videos, 20,000 authors)")
        seconds, per_page, peak_mib = measure_finishing(Path(tmp) / "finishing")
        line("rewrite of every page", f"{seconds:.1f} s ({per_page:.1f} ms per page)")
        line("peak memory (a process of its own)", f"{peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
