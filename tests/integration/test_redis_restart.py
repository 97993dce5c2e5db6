"""Redis restarts mid-harvest — killed (SIGKILL, with `appendfsync always` as ops/README.md
asks) and started again, stopped cleanly and started again, and every client connection
dropped — and the workers reconnect and go on: the harvest ends exactly, nothing is left
stranded, and the quota is never spent beyond what the bucket counted."""

import time

import httpx
import pytest
import redis

from core.keys import Keys
from harvest_cli.processes import PrivateRedis, wait_until
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, assert_exact, wait_for_state
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

DOWN_S = 3


def test_harvest_is_exact_through_redis_killed_restarted_and_connections_dropped(
        harvest_env, namespace, simulator_url, fleets, tmp_path):
    server = PrivateRedis(tmp_path, data_dir=tmp_path).start()
    try:
        env = dict(harvest_env, REDIS_URL=server.url)
        client = redis.Redis.from_url(server.url, socket_timeout=10)
        store = HarvestStore(client, Keys(namespace))
        httpx.post(f"{simulator_url}/_sim/stats/reset").raise_for_status()
        result = cli("submit", str(DEMO_SPEC), env=env)
        assert result.returncode == 0, result.stderr
        harvest_id = result.stdout.strip().splitlines()[-1]
        fleet = fleets(processes=2, threads=4, env=env)

        def when(users: int) -> None:
            wait_until(lambda: store.registered_status(harvest_id).users_done >= users, 120, f"{users} users answered")

        when(100)
        server.kill()  # mid-flight: commands in transit, fetches, enqueues, acks
        time.sleep(DOWN_S)
        server.start()
        when(350)
        server.kill()
        time.sleep(DOWN_S)
        server.start()
        when(550)
        server.shutdown()
        time.sleep(DOWN_S)
        server.start()
        when(750)
        client.client_kill_filter(_type="normal", skipme=True)  # every worker's connection, dropped
        status = wait_for_state(store, harvest_id, timeout_s=300, fleets=[fleet])
        assert status.state == "done" and status.dead_letters == 0, status
        assert_exact(store, simulator_url, tmp_path / "data", harvest_id)

        # The bucket counted at least every request TikTok saw: never spent beyond it.
        sent = httpx.get(f"{simulator_url}/_sim/stats").json()["clients"]["key-climate-key"]["requests"]
        counted = int(client.hget(Keys(namespace).quota("climate-key"), "requests") or 0)
        assert sent <= counted, (sent, counted)
        # Nothing stranded: no message waits in any worker's unacknowledged set or a queue.
        leftovers = [key for key in client.scan_iter(match=f"{namespace}:__acks__*") if client.scard(key)]
        assert leftovers == [], leftovers
    finally:
        server.stop()


def test_workers_refuse_to_start_on_a_redis_that_may_evict_keys(harvest_env, tmp_path):
    server = PrivateRedis(tmp_path, extra=["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]).start()
    try:
        result = cli("worker", "--processes", "1", env=dict(harvest_env, REDIS_URL=server.url), timeout=30)
        assert result.returncode == 2
        assert "maxmemory-policy is 'allkeys-lru'" in result.stderr and "noeviction" in result.stderr
    finally:
        server.stop()
