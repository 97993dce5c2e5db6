"""A worker host cut off from Redis and TikTok for 40 s mid-harvest, longer than the
dead-worker timeout: its messages are handed to the other host's workers. When the link
comes back, the cut-off workers go on with what they held, and their late writes are fenced
off: the harvest ends exactly, nothing duplicated, nothing corrupted.

The second host is a network namespace joined by a veth pair (chaos/netns.py);
Redis and the simulator listen on the host's end of the link so both hosts reach them."""

import time

import httpx
import pytest
import redis

from chaos.netns import second_host
from core.keys import Keys
from harvest_cli.processes import PrivateRedis, start_simulator, wait_until
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, assert_exact, wait_for_state
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

CUT_S = 40


def test_a_host_cut_off_for_40s_neither_duplicates_nor_corrupts_what_the_others_did(
        harvest_env, namespace, fleets, tmp_path):
    with second_host() as host_b:
        server = PrivateRedis(tmp_path, bind=host_b.host_ip).start()
        simulator, simulator_url = start_simulator(log_dir=tmp_path, host=host_b.host_ip,
                                                   # Slow enough that host A alone cannot finish during the cut:
                                                   # host B comes back to a harvest still running.
                                                   extra=["--daily-requests", "1000000", "--latency-ms", "300"])
        try:
            env = dict(harvest_env, REDIS_URL=server.url, TIKTOK_API_BASE_URL=simulator_url)
            client = redis.Redis.from_url(server.url, socket_timeout=10)
            store = HarvestStore(client, Keys(namespace))
            result = cli("submit", str(DEMO_SPEC), env=env)
            assert result.returncode == 0, result.stderr
            harvest_id = result.stdout.strip().splitlines()[-1]
            heartbeats = f"{namespace}:__heartbeats__"
            fleet_a = fleets(processes=1, threads=4, env=env)
            wait_until(lambda: store.registered_status(harvest_id).pages >= 3, 60, "host A at work")
            time.sleep(1)
            before_b = set(client.zrange(heartbeats, 0, -1))  # host A's worker (and the submit's broker)
            fleet_b = fleets(processes=1, threads=4, env=env, prefix=host_b.run_inside)
            workers_b = wait_until(lambda: set(client.zrange(heartbeats, 0, -1)) - before_b, 30, "host B's worker")
            wait_until(lambda: store.registered_status(harvest_id).pages >= 15, 120, "mid-harvest")

            host_b.cut()
            cut_at = time.monotonic()
            # Host A sees host B's worker die and takes its messages over.
            wait_until(lambda: not workers_b & set(client.zrange(heartbeats, 0, -1)), CUT_S, "host B counted dead")
            time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
            host_b.restore()
            assert store.registered_status(harvest_id).state == "running"

            status = wait_for_state(store, harvest_id, timeout_s=300, fleets=[fleet_a])
            assert fleet_b.child.alive(), "host B's workers gave up instead of going on"
            assert status.state == "done" and status.dead_letters == 0, status
            assert_exact(store, simulator_url, tmp_path / "data", harvest_id)
            # Host B came back and worked on: its heartbeat is there again.
            wait_until(lambda: workers_b & set(client.zrange(heartbeats, 0, -1)), 120, "host B back")
            stats = httpx.get(f"{simulator_url}/_sim/stats").json()["clients"]["key-climate-key"]
            counted = int(client.hget(Keys(namespace).quota("climate-key"), "requests") or 0)
            assert stats["requests"] <= counted
        finally:
            simulator.stop()
            server.stop()
