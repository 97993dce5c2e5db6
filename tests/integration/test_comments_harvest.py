"""Comments harvested end to end — the CLI, Redis, worker processes, the simulator over HTTP —
with a worker process SIGKILLed in the middle of the comment fan-out: every reachable comment
of every video with comments is stored once, and the harvest ends done."""

import collections
import json
import os
import signal

import httpx
import pytest
import yaml

from core.keys import Keys
from harvest_cli.processes import wait_until
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, ground_truth, stored_video_ids, wait_for_state
from workers.progress import HarvestStore
from workers.storage import Storage

pytestmark = pytest.mark.integration


def stored_comment_ids(data_dir, plan) -> collections.Counter:
    seen: collections.Counter[str] = collections.Counter()
    for path in Storage(data_dir).records_dir(plan).glob(Storage.COMMENT_FILES):
        seen.update(record["@id"].removeprefix("iCANDID_tiktok_comment_") for record in json.loads(path.read_bytes()))
    return seen


def test_every_reachable_comment_is_stored_once_though_a_worker_dies_mid_fan_out(
        harvest_env, redis_client, namespace, simulator_url, fleets, tmp_path):
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "comments_week", "period": "20240601-20240607",
                                                    "collect": ["videos", "comments"]}
    spec_file = tmp_path / "comments.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    assert cli("submit", str(spec_file), env=harvest_env).returncode == 0
    store = HarvestStore(redis_client, Keys(namespace))
    first, _ = fleets(processes=1, threads=4), fleets(processes=1, threads=4)
    wait_until(lambda: store.registered_status("comments_week").endpoints["comment_list"].pages >= 40, 120,
               "the comment fan-out under way")
    (victim,) = first.worker_pids()
    os.kill(victim, signal.SIGKILL)
    first.child.process.wait(60)
    fleets(processes=1, threads=4)  # the container restarts
    status = wait_for_state(store, "comments_week", timeout_s=300)
    assert status.state == "done" and status.dead_letters == 0, status

    plan = store.plan("comments_week")
    assert plan is not None
    videos = ground_truth(simulator_url, plan)
    assert set(stored_video_ids(tmp_path / "data", plan)) == videos
    truth = httpx.post(f"{simulator_url}/_sim/ground_truth/comments", json={"video_ids": sorted(videos)},
                       timeout=60).json()["videos"]
    expected = {comment for video in truth.values() for comment in video["ids"]}
    stored = stored_comment_ids(tmp_path / "data", plan)
    assert len(expected) > 5000
    assert set(stored) == expected, (len(set(stored) - expected), len(expected - set(stored)))
    assert set(stored.values()) == {1}  # each once
    comments = status.endpoints["comment_list"]
    with_comments = sum(1 for video in truth.values() if video["ids"])
    assert comments.chains_done == comments.chains_total == with_comments
    assert status.comments == comments.records == len(expected)
    cut = sum(1 for video in truth.values() if video["comment_count"] > video["reachable"])
    assert status.comments_cut == cut
