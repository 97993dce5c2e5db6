"""Two accounts' liked, pinned and reposted videos, harvested end to end against the
simulator: every reachable act stored once, every video once across the whole harvest
(search pages and lists alike), and hidden likes and reposts recorded as outcomes."""

import collections
import json

import httpx
import pytest
import yaml

from core.keys import Keys
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, wait_for_state
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

ACCOUNTS = ["vrtnws", "hln_be"]  # hln_be hides its likes and its reposts
LISTS = {"liked": "liked_videos", "pinned": "pinned_videos", "reposted": "reposted_videos"}


def test_every_reachable_like_pin_and_repost_is_stored_once(harvest_env, redis_client, namespace, simulator_url,
                                                            fleets, tmp_path):
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {
        "id": "account_lists", "accounts": ACCOUNTS, "keywords": [], "period": "20240601-20240630",
        "collect": ["videos", *LISTS.values()]}
    spec_file = tmp_path / "lists.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    assert cli("submit", str(spec_file), env=harvest_env).returncode == 0
    store = HarvestStore(redis_client, Keys(namespace))
    fleet = fleets(processes=2, threads=4)
    status = wait_for_state(store, "account_lists", timeout_s=240, fleets=[fleet])
    assert status.state == "done" and status.dead_letters == 0, status

    records = [r for path in (tmp_path / "data" / "records").rglob("tiktok_*.json")
               for r in json.loads(path.read_bytes())]
    videos = collections.Counter(r["@id"] for r in records if r["@type"] == "Message")
    assert set(videos.values()) == {1}, "a video stored twice"
    acts = collections.defaultdict(set)
    for r in records:
        if r["@type"] in ("LikeAction", "ChooseAction", "ShareAction"):
            acts[(r["@type"], r["agent"]["alternateName"])].add(r["object"]["@id"].removeprefix("iCANDID_tiktok_"))
            assert r["object"]["@id"] in videos  # the video each act points at is stored
    outcomes = redis_client.hgetall(Keys(namespace).list_outcomes("account_lists"))
    act_types = {"liked": "LikeAction", "pinned": "ChooseAction", "reposted": "ShareAction"}
    for which, collected in LISTS.items():
        truth = httpx.post(f"{simulator_url}/_sim/ground_truth/{collected}", json={"usernames": ACCOUNTS},
                           timeout=60).json()["users"]
        for account in ACCOUNTS:
            if truth[account]["status"] == "ok":
                assert acts[(act_types[which], account)] == set(truth[account]["ids"]), (which, account)
            else:
                assert outcomes[f"user_{collected}:{account}".encode()] == b"restricted", (which, account)
    assert len(acts[("LikeAction", "vrtnws")]) > 500 and ("LikeAction", "hln_be") not in acts
    for which, collected in LISTS.items():  # status: each list's records, chains and outcomes
        part = status.endpoints[f"user_{collected}"]
        assert part.records == sum(len(found) for (kind, _), found in acts.items() if kind == act_types[which])
        assert part.chains_done == part.chains_total == len(ACCOUNTS)
        restricted = sum(1 for key in outcomes if key.decode().startswith(f"user_{collected}:"))
        assert part.outcomes == ({"restricted": restricted} if restricted else {}), which
