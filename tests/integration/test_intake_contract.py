"""The intake contract end to end, as a non-Python service uses it: requests published with
redis-cli alone (ops/intake/publish-with-redis-cli.sh) are run by real workers and answered
under their request ids, read back with redis-cli."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from core.keys import Keys
from harvest_cli.processes import wait_until
from tests.integration.harvest_checks import DEMO_SPEC
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "ops" / "intake" / "publish-with-redis-cli.sh"


def publish(env: dict, actor: str, payload: dict) -> str:
    done = subprocess.run([str(SCRIPT), actor, json.dumps(payload)], env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def answer(env: dict, request_id: str) -> dict | None:
    key = f"{env['HARVEST_NAMESPACE']}:intake:reply:{request_id}"
    raw = subprocess.run(["redis-cli", "-u", env["REDIS_URL"], "GET", key], capture_output=True, text=True,
                         check=True, timeout=30).stdout.strip()
    return json.loads(raw) if raw else None


def wait_for_answer(env: dict, request_id: str) -> dict:
    wait_until(lambda: answer(env, request_id) is not None, 60, f"the answer to {request_id}")
    found = answer(env, request_id)
    assert found is not None
    return found


def test_requests_published_with_redis_cli_alone_are_run_and_answered(harvest_env, redis_client, namespace,
                                                                       fleets):
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "from_redis_cli", "period": "20240601-20240630"}
    fleets(processes=1, threads=2)
    publish(harvest_env, "submit_harvest", {"spec": spec, "request_id": "svc-1"})
    accepted = wait_for_answer(harvest_env, "svc-1")
    assert (accepted["outcome"], accepted["harvest_id"], accepted["created"]) == ("accepted", "from_redis_cli", True)

    publish(harvest_env, "pause_harvest", {"harvest_id": "from_redis_cli", "request_id": "svc-2"})
    assert wait_for_answer(harvest_env, "svc-2")["state"] == "paused"
    message_id = publish(harvest_env, "cancel_harvest", {"harvest_id": "from_redis_cli"})  # no request id
    assert wait_for_answer(harvest_env, message_id)["state"] == "cancelled"
    assert HarvestStore(redis_client, Keys(namespace)).registered_status("from_redis_cli").state == "cancelled"

    publish(harvest_env, "submit_harvest", {"spec": spec | {"id": "bad_day", "period": "20240631-20240701"},
                                            "request_id": "svc-3"})
    refused = wait_for_answer(harvest_env, "svc-3")
    assert (refused["outcome"], refused["field"]) == ("refused", "period")
    # Every message was acknowledged: nothing left in the queue or in flight.
    wait_until(lambda: redis_client.hlen(f"{namespace}:intake.msgs") == 0, 30, "the intake queue emptied")
