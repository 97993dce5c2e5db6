"""The compliance refresh end to end — the CLI, Redis, worker processes, the simulator over
HTTP: a month of the demo query is harvested, about 5% of its videos are deleted on
"TikTok", and `tiktok-harvest refresh` moves exactly their records into the removal log while
every other record stays, for about one request per 100 stored videos."""

import json
import math
import time

import httpx
import msgspec
import pytest
import yaml

from core.keys import Keys
from schemas.refresh import RefreshStarted, RemovalLog
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, ground_truth, stored_video_ids, wait_for_state
from workers.progress import HarvestStore
from workers.storage import Storage

pytestmark = pytest.mark.integration


def test_a_refresh_moves_exactly_the_deleted_videos_into_the_removal_log(harvest_env, redis_client, namespace,
                                                                        simulator_url, fleets, tmp_path):
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "refresh_june", "period": "20240601-20240630",
                                                    "collect": ["videos"]}
    spec_file = tmp_path / "refresh.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    assert cli("submit", str(spec_file), env=harvest_env).returncode == 0
    store = HarvestStore(redis_client, Keys(namespace))
    fleet = fleets(processes=2, threads=4)
    status = wait_for_state(store, "refresh_june", timeout_s=120, fleets=[fleet])
    assert status.state == "done" and status.dead_letters == 0, status
    plan = store.plan("refresh_june")
    assert plan is not None
    data = tmp_path / "data"
    stored = set(stored_video_ids(data, plan))
    assert stored == ground_truth(simulator_url, plan)

    gone = set(sorted(stored)[::20])  # 5%
    deleted = httpx.post(f"{simulator_url}/_sim/delete_videos", json={"ids": sorted(gone)}, timeout=30).json()
    try:
        assert set(deleted["deleted"]) == gone
        began = time.monotonic()
        done = cli("refresh", "refresh_june", "--json", env=harvest_env)
        assert done.returncode == 0, done.stderr
        started = msgspec.json.decode(done.stdout, type=RefreshStarted)
        assert (started.videos, started.unchecked, started.joined) == (len(stored), 0, False)
        deadline = time.monotonic() + 60
        while (refresh := store.registered_status("refresh_june").refresh) is None or refresh.state != "done":
            assert time.monotonic() < deadline, refresh
            assert fleet.child.alive(), f"workers exited; see {fleet.log_path}"
            time.sleep(0.2)
        took = time.monotonic() - began
    finally:
        httpx.post(f"{simulator_url}/_sim/restore_videos", json={"ids": sorted(gone)}, timeout=30)

    after = stored_video_ids(data, plan)
    assert set(after) == stored - gone and set(after.values()) == {1}  # every other record stayed, once
    storage = Storage(data)
    removed: dict[str, int] = {}
    for path in storage.harvest_records(plan).joinpath("removed").rglob("tiktok_removed_*.json"):
        log = msgspec.json.decode(path.read_bytes(), type=RemovalLog)
        assert (log.harvest, log.refresh) == ("refresh_june", started.refresh)
        for item in log.removed:
            assert item.kind == "video" and json.loads(bytes(item.record))["@id"] == item.id
            removed[item.video_id] = removed.get(item.video_id, 0) + 1
    assert set(removed) == gone and set(removed.values()) == {1}  # each moved once

    status = store.registered_status("refresh_june")
    assert status.state == "done" and status.dead_letters == 0
    r = status.refresh
    assert r is not None and (r.gone, r.videos_removed) == (len(gone), len(gone))
    assert r.still_served == len(stored) - len(gone)
    # One request per batch (an answer of at most 100 videos is not paged): about one per 100
    # stored videos, more only where a window of 30 days holds fewer than 100.
    assert r.requests == r.batches == started.batches
    assert math.ceil(len(stored) / 100) <= r.batches <= math.ceil(len(stored) / 100) + 1
    print(f"refresh of {len(stored)} videos: {r.requests} requests "
          f"({10_000 * r.requests / len(stored):.0f} per 10,000 stored videos), {len(gone)} gone, {took:.1f} s")
