"""A message that kills its worker on every delivery — here a real SIGKILL of the worker
process each time it starts on the message — is dead-lettered with its reason after a
bounded number of deliveries, instead of coming back forever; the harvest shows `failed`
and nothing else is lost."""

import json
import os
import signal

import pytest
import yaml

from core.keys import Keys
from harvest_cli.processes import wait_until
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC
from tests.integration.test_harvest_end_to_end import simulator_switches
from workers.middleware.crashed_deliveries import MAX_CRASHED_DELIVERIES
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration


def test_a_message_that_kills_every_worker_it_meets_is_dead_lettered_with_its_reason(
        harvest_env, redis_client, namespace, simulator_url, fleets, tmp_path):
    # Quick recovery: the dead worker's messages come back within seconds.
    env = dict(harvest_env, HARVEST_DEAD_WORKER_AFTER_S="3", HARVEST_SWEEP_INTERVAL_S="1", HARVEST_LEASE_HOLD_S="3")
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "poison", "period": "20240610-20240610",
                                                    "collect": ["videos"]}
    spec_file = tmp_path / "poison.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    assert cli("submit", str(spec_file), env=env).returncode == 0
    store = HarvestStore(redis_client, Keys(namespace))
    pattern = f"{namespace}:deliveries:*"

    def deliveries_started() -> int:
        return sum(int(redis_client.get(key) or 0) for key in redis_client.scan_iter(match=pattern))

    kills = 0
    with simulator_switches(simulator_url, latency_ms=4000):  # each delivery is in its call when killed
        while kills < MAX_CRASHED_DELIVERIES:
            fleet = fleets(processes=1, threads=1, env=env)
            wait_until(lambda done=kills: deliveries_started() > done, 60, f"delivery {kills + 1}")
            (worker,) = fleet.worker_pids()
            os.kill(worker, signal.SIGKILL)  # the message "kills its worker"
            kills += 1
            fleet.child.process.wait(60)
        fleet = fleets(processes=1, threads=1, env=env)
        wait_until(lambda: store.registered_status("poison").state == "failed", 60, "the dead letter")
    letters = json.loads(cli("dead", "list", "poison", "--json", env=env).stdout)
    (letter,) = letters
    assert f"died during {MAX_CRASHED_DELIVERIES} deliveries in a row" in letter["reason"]
    assert letter["payload"]["page"] == 0
    assert deliveries_started() == 0
    # It was not run a fourth time: no more requests than the killed deliveries made.
    assert store.registered_status("poison").requests <= MAX_CRASHED_DELIVERIES
