"""TikTok down for 20 s mid-harvest (a minute in `make chaos`): the fleet stops spending,
probes now and then, resumes by itself, and the harvest ends exactly, without a dead letter
or a split window."""

import httpx
import pytest

from core.keys import Keys
from harvest_cli.processes import wait_until
from tests.integration.harvest_checks import assert_exact, wait_for_state
from tests.integration.test_harvest_end_to_end import simulator_switches, submit
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

OUTAGE_S = 20


def research_requests(simulator_url: str) -> int:
    return httpx.get(f"{simulator_url}/_sim/stats").json()["clients"].get("key-climate-key", {}).get("requests", 0)


def test_tiktok_down_for_a_while_costs_a_few_dozen_requests_and_the_harvest_ends_exactly(
        harvest_env, redis_client, namespace, simulator_url, fleets, tmp_path, mode="status"):
    """TikTok answering 503 to everything; `make chaos` also has it resetting connections."""
    store = HarvestStore(redis_client, Keys(namespace))
    httpx.post(f"{simulator_url}/_sim/stats/reset").raise_for_status()
    with simulator_switches(simulator_url, latency_ms=40, outage_status=0, outage_mode=mode):
        harvest_id = submit(harvest_env)
        fleet = fleets(processes=2, threads=4)
        # chains and profiles in flight
        wait_until(lambda: store.registered_status(harvest_id).users_done >= 100, 90, "mid-harvest")
        before = research_requests(simulator_url)
        httpx.post(f"{simulator_url}/_sim/config",
                   json={"outage_status": 503, "outage_for_s": OUTAGE_S}).raise_for_status()
        during = wait_until_outage_over(simulator_url)
        spent_during = research_requests(simulator_url) - before
        done = wait_for_state(store, harvest_id, timeout_s=300, fleets=[fleet], may_wait_for_quota=True)
    stats = httpx.get(f"{simulator_url}/_sim/stats").json()
    print(f"outage ({mode}): {spent_during} requests during {OUTAGE_S} s, {during} answered by the outage; "
          f"{stats['clients']['key-climate-key']['requests']} in all")
    assert done.state == "done" and done.dead_letters == 0, done
    assert spent_during <= 40, spent_during  # in-flight calls, then a few probes
    windows = redis_client.hvals(Keys(namespace).windows(harvest_id))
    assert set(windows) == {b"done"}, windows  # nothing was split for it
    assert_exact(store, simulator_url, tmp_path / "data", harvest_id)


def wait_until_outage_over(simulator_url: str) -> int:
    """Polls the simulator until the timed outage ended; returns the calls it answered."""
    wait_until(lambda: not httpx.get(f"{simulator_url}/_sim/config").json()["outage_status"], OUTAGE_S + 30,
               "the end of the outage", interval_s=0.5)
    return httpx.get(f"{simulator_url}/_sim/stats").json()["faults"]["outage"]
