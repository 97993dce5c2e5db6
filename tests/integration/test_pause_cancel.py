"""Pause, resume and cancel with real workers (2 processes x 4 threads) and hundreds of
messages queued: `paused` / `cancelled` shows as soon as the command returns, no request
goes out after it but the calls already in flight, the queued messages are held (pause) or
dropped (cancel) without a call, and a resumed harvest still ends exactly."""

import time

import httpx
import pytest
import yaml

from core import messages
from core.keys import Keys
from harvest_cli.processes import wait_until
from tests.integration.harvest_checks import DEMO_SPEC, assert_exact, wait_for_state
from tests.integration.test_harvest_end_to_end import cli, simulator_switches, submit
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

THREADS = 8  # 2 processes x 4: at most this many calls can be in flight at the pause
QUEUES = (messages.PAGES_QUEUE, messages.USERS_QUEUE, messages.COMMENTS_QUEUE, messages.LISTS_QUEUE)


def research_requests(simulator_url: str) -> int:
    return httpx.get(f"{simulator_url}/_sim/stats").json()["clients"].get("key-climate-key", {}).get("requests", 0)


def messages_queued(redis_client, namespace: str) -> int:
    """Messages in the harvest queues: waiting, delayed or being worked on."""
    return sum(redis_client.hlen(f"{namespace}:{queue}{suffix}.msgs") for queue in QUEUES for suffix in ("", ".DQ"))


def steer(action: str, harvest_id: str, env: dict, store: HarvestStore, state: str) -> float:
    """Run `tiktok-harvest <action>`; seconds from the command's start until `status` shows `state`."""
    began = time.monotonic()
    result = cli(action, harvest_id, env=env)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: store.registered_status(harvest_id).state == state, 10, state, interval_s=0.05)
    return time.monotonic() - began


def test_pause_holds_every_message_without_a_call_and_resume_ends_exactly(
        harvest_env, redis_client, namespace, simulator_url, fleets, tmp_path):
    store = HarvestStore(redis_client, Keys(namespace))
    with simulator_switches(simulator_url, latency_ms=150):
        harvest_id = submit(harvest_env)
        fleet = fleets(processes=2, threads=4)
        wait_until(lambda: store.registered_status(harvest_id).users_done >= 50, 120, "profiles under way")
        queued = messages_queued(redis_client, namespace)
        shown_s = steer("pause", harvest_id, harvest_env, store, "paused")
        at_pause = research_requests(simulator_url)
        # Every queued message meets the pause and is held; nothing calls TikTok meanwhile.
        wait_until(lambda: messages_queued(redis_client, namespace) == 0, 60, "the queues drained into the hold")
        time.sleep(2)
        after = research_requests(simulator_url) - at_pause
        held = store.registered_status(harvest_id).messages_held
        print(f"pause: {queued} messages queued, paused shown after {shown_s:.2f} s, {after} requests after it, "
              f"{held} messages held")
        assert queued >= 100, queued
        assert after <= THREADS, after  # only calls granted before the pause
        assert held > 0
        time.sleep(3)
        assert research_requests(simulator_url) - at_pause == after  # still nothing while paused

        steer("resume", harvest_id, harvest_env, store, "running")
        done = wait_for_state(store, harvest_id, timeout_s=240, fleets=[fleet])
    assert done.state == "done" and done.dead_letters == 0, done
    assert_exact(store, simulator_url, tmp_path / "data", harvest_id)


def test_cancel_drops_the_queued_messages_without_a_call_and_frees_the_credential(
        harvest_env, redis_client, namespace, simulator_url, fleets, tmp_path):
    store, keys = HarvestStore(redis_client, Keys(namespace)), Keys(namespace)
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "tiktok_query_cancelled"}
    spec_file = tmp_path / "cancelled.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    with simulator_switches(simulator_url, latency_ms=150):
        assert cli("submit", str(spec_file), env=harvest_env).returncode == 0
        harvest_id = "tiktok_query_cancelled"
        fleet = fleets(processes=2, threads=4)
        wait_until(lambda: store.registered_status(harvest_id).users_done >= 50, 120, "profiles under way")
        queued = messages_queued(redis_client, namespace)
        shown_s = steer("cancel", harvest_id, harvest_env, store, "cancelled")
        at_cancel = research_requests(simulator_url)
        assert redis_client.zscore(keys.quota_active("climate-key"), harvest_id) is None  # left at once
        wait_until(lambda: messages_queued(redis_client, namespace) == 0, 60, "the queues drained")
        time.sleep(2)
        after = research_requests(simulator_url) - at_cancel
        status = store.registered_status(harvest_id)
    print(f"cancel: {queued} messages queued, cancelled shown after {shown_s:.2f} s, {after} requests after it")
    assert queued >= 100, queued
    assert after <= THREADS, after
    assert status.state == "cancelled" and status.dead_letters == 0 and status.messages_held == 0
    assert status.records > 0  # what was stored stays
    assert fleet.child.alive()
