"""An account's followers and the accounts it follows, harvested end to end against the
simulator: every reachable relation stored once, on the follower budget, not the research one."""

import json

import httpx
import pytest
import yaml

from core.keys import Keys
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, wait_for_state
from workers.progress import HarvestStore
from workers.storage import Storage

pytestmark = pytest.mark.integration


def stored_relations(data_dir, plan) -> list[tuple[str, str]]:
    found = []
    for path in Storage(data_dir).records_dir(plan).glob(Storage.FOLLOW_FILES):
        found += [(r["agent"]["alternateName"], r["object"]["alternateName"]) for r in json.loads(path.read_bytes())]
    return found


def test_every_reachable_follower_and_followed_account_is_stored_once(harvest_env, redis_client, namespace,
                                                                       simulator_url, fleets, tmp_path):
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {
        "id": "follows_hln", "accounts": ["hln_be"], "keywords": [], "period": "20240601-20240630",
        "collect": ["videos", "followers", "following"]}
    spec_file = tmp_path / "follows.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    assert cli("submit", str(spec_file), env=harvest_env).returncode == 0
    store = HarvestStore(redis_client, Keys(namespace))
    fleet = fleets(processes=2, threads=4)
    status = wait_for_state(store, "follows_hln", timeout_s=240, fleets=[fleet])
    assert status.state == "done" and status.dead_letters == 0, status

    plan = store.plan("follows_hln")
    assert plan is not None
    truth = {direction: httpx.post(f"{simulator_url}/_sim/ground_truth/follows", timeout=60,
                                   json={"usernames": ["hln_be"], "direction": direction}).json()["users"]["hln_be"]
             for direction in ("followers", "following")}
    expected = {(name, "hln_be") for name in truth["followers"]["usernames"]}
    expected |= {("hln_be", name) for name in truth["following"]["usernames"]}
    stored = stored_relations(tmp_path / "data", plan)
    assert len(truth["followers"]["usernames"]) > 4000
    assert len(stored) == len(set(stored)), "a relation stored twice"
    assert set(stored) == expected
    followers, following = status.endpoints["user_followers"], status.endpoints["user_following"]
    assert followers.records + following.records == len(expected)
    assert followers.chains_done == following.chains_done == 1
    # On the follower budget: the research requests are the video pages alone.
    assert status.requests == status.endpoints["video_query"].requests + followers.requests + following.requests
    bucket = int(redis_client.hget(Keys(namespace).quota("climate-key#follows"), "requests"))
    assert bucket == followers.requests + following.requests >= 49
    research = int(redis_client.hget(Keys(namespace).quota("climate-key"), "requests"))
    assert research == status.endpoints["video_query"].requests
