"""The playlists an account's videos belong to, harvested end to end against the simulator:
each once, as one ItemList of its shown videos in order."""

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


def test_every_playlist_of_the_harvested_videos_is_stored_once_in_order(harvest_env, redis_client, namespace,
                                                                        simulator_url, fleets, tmp_path):
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {
        "id": "playlists_hln", "accounts": ["hln_be"], "keywords": [], "period": "20240101-20241231",
        "collect": ["videos", "playlists"]}
    spec_file = tmp_path / "playlists.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    assert cli("submit", str(spec_file), env=harvest_env).returncode == 0
    store = HarvestStore(redis_client, Keys(namespace))
    fleet = fleets(processes=2, threads=4)
    status = wait_for_state(store, "playlists_hln", timeout_s=240, fleets=[fleet])
    assert status.state == "done" and status.dead_letters == 0, status

    plan = store.plan("playlists_hln")
    assert plan is not None
    storage = Storage(tmp_path / "data")
    named = {str(v["playlist_id"]) for path in storage.source_dir(plan).glob(Storage.PAGE_FILES)
             for v in json.loads(path.read_bytes())["data"]["videos"] if v.get("playlist_id")}
    assert named, "no harvested video belongs to a playlist: pick another account or period"
    truth = httpx.post(f"{simulator_url}/_sim/ground_truth/playlists", json={"playlist_ids": sorted(named)},
                       timeout=60).json()["playlists"]
    stored = {}
    for path in storage.records_dir(plan).glob("tiktok_playlist_*.json"):
        (record,) = json.loads(path.read_bytes())
        stored[record["@id"].removeprefix("iCANDID_tiktok_playlist_")] = [
            item["item"]["@id"].removeprefix("iCANDID_tiktok_") for item in record["itemListElement"]]
    assert set(stored) == named
    for playlist_id, ids in stored.items():
        assert ids == truth[playlist_id]["ids"], playlist_id
    playlists = status.endpoints["playlist_info"]
    assert playlists.records == playlists.chains_done == playlists.chains_total == len(named)
