"""Redis stops answering for a while mid-harvest (a network blip, a failover, a stalled
host): the workers wait it out and the harvest is still exact."""

import os
import signal
import time

import pytest
import redis

from core.keys import Keys
from harvest_cli.processes import start_redis
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, assert_exact, wait_for_state
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("pause_s", [5, 20])
def test_harvest_is_exact_after_redis_stalls_mid_harvest(harvest_env, namespace, simulator_url, fleets, tmp_path,
                                                         pause_s):
    server, url = start_redis(tmp_path)  # a Redis of this test's own: stalling it stalls nobody else
    try:
        env = dict(harvest_env, REDIS_URL=url)
        client = redis.Redis.from_url(url)
        store = HarvestStore(client, Keys(namespace))
        result = cli("submit", str(DEMO_SPEC), env=env)
        assert result.returncode == 0, result.stderr
        harvest_id = result.stdout.strip()
        fleet = fleets(processes=2, threads=4, env=env)
        deadline = time.monotonic() + 120
        while store.registered_status(harvest_id).users_done < 200:
            assert time.monotonic() < deadline, store.status(harvest_id)
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGSTOP)  # every command now hangs, mid-flight
        time.sleep(pause_s)
        os.kill(server.pid, signal.SIGCONT)
        status = wait_for_state(store, harvest_id, timeout_s=300, fleets=[fleet])
        assert status.state == "done", status
        assert_exact(store, simulator_url, tmp_path / "data", harvest_id)
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.stop()
