"""Waiting for a harvest and checking what it stored against the simulator's ground truth."""

import collections
import json
import time
from pathlib import Path

import httpx
import msgspec

from core.keys import Keys
from schemas.spec import HarvestPlan
from workers.progress import HarvestStore
from workers.storage import Storage

DEMO_SPEC = Path(__file__).resolve().parents[2] / "harvest_cli" / "demo_spec.yaml"  # 6,101 videos, ~950 authors


def wait_for_state(store: HarvestStore, harvest_id: str, states=("done", "failed"), timeout_s: float = 300,
                   fleets=(), may_wait_for_quota: bool = False):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = store.status(harvest_id)
        if status and status.state in states:
            return status
        if status and status.state == "waiting_for_quota" and "waiting_for_quota" not in states \
                and not may_wait_for_quota:
            raise AssertionError(f"harvest unexpectedly waits for quota: {status}")
        for fleet in fleets:
            assert fleet.child.alive(), f"worker fleet exited early; see {fleet.log_path}"
        time.sleep(0.2)
    raise AssertionError(f"harvest not {states} after {timeout_s}s: {store.status(harvest_id)}")


def ground_truth(simulator_url: str, plan: HarvestPlan) -> set[str]:
    response = httpx.post(f"{simulator_url}/_sim/ground_truth", timeout=60, json={
        "query": msgspec.to_builtins(plan.query), "start_date": plan.period_start, "end_date": plan.period_end,
    })
    response.raise_for_status()
    return set(response.json()["ids"])


def stored_video_ids(data_dir: Path, plan: HarvestPlan) -> collections.Counter[str]:
    """Every video record in the harvest's records folder, counted (a count above 1 is a duplicate)."""
    seen: collections.Counter[str] = collections.Counter()
    for path in Storage(data_dir).records_dir(plan).glob("tiktok_videos_*.json"):
        for record in json.loads(path.read_bytes()):
            seen[record["@id"].removeprefix("iCANDID_tiktok_")] += 1
    return seen


def unexpanded_authors(data_dir: Path, plan: HarvestPlan) -> set[str]:
    """Video authors still written as a bare reference (no profile expanded into them)."""
    bare = set()
    for path in Storage(data_dir).records_dir(plan).glob("tiktok_videos_*.json"):
        for record in json.loads(path.read_bytes()):
            author = record.get("author")
            if author and "additionalProperty" not in author:
                bare.add(author["alternateName"])
    return bare


def stored_usernames(data_dir: Path, plan: HarvestPlan) -> set[str]:
    names = set()
    for path in Storage(data_dir).records_dir(plan).glob("tiktok_user_*.json"):
        (record,) = json.loads(path.read_bytes())
        names.add(record["alternateName"])
    return names


def truth_authors(simulator_url: str, ids: set[str], data_dir: Path, plan: HarvestPlan) -> set[str]:
    """Authors of the true videos, read from the raw pages (the simulator's answers)."""
    authors = set()
    for path in Storage(data_dir).source_dir(plan).glob("tiktok_videos_*.json"):
        for video in json.loads(path.read_bytes())["data"]["videos"]:
            if str(video["id"]) in ids and video.get("username"):
                authors.add(video["username"])
    return authors


def assert_exact(store: HarvestStore, simulator_url: str, data_dir: Path, harvest_id: str) -> None:
    plan = store.plan(harvest_id)
    assert plan is not None
    truth = ground_truth(simulator_url, plan)
    stored = stored_video_ids(data_dir, plan)
    missing = truth - set(stored)
    extra = set(stored) - truth
    duplicated = {video_id: n for video_id, n in stored.items() if n > 1}
    assert not missing, f"{len(missing)} of {len(truth)} videos missing, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} videos stored that do not match, e.g. {sorted(extra)[:5]}"
    assert not duplicated, f"{len(duplicated)} videos stored more than once, e.g. {list(duplicated.items())[:5]}"
    status = store.status(harvest_id)
    assert status is not None
    assert status.state == "done" and status.records == len(truth)
    assert status.windows_done == status.windows_total
    authors = truth_authors(simulator_url, truth, data_dir, plan)
    assert stored_usernames(data_dir, plan) == authors
    assert status.users_done == status.users_requested == len(authors)
    assert not unexpanded_authors(data_dir, plan)  # every author expanded from their profile
    assert_no_temporary_files(data_dir, plan)


def assert_no_temporary_files(data_dir: Path, plan: HarvestPlan, timeout_s: float = 10) -> None:
    """Writes a kill cut short are cleared away once the harvest is done (just after the
    state turns `done`, hence the wait)."""
    storage = Storage(data_dir)
    deadline = time.monotonic() + timeout_s
    while leftovers := [p.name for d in (storage.source_dir(plan), storage.records_dir(plan)) for p in d.glob(".*")]:
        assert time.monotonic() < deadline, leftovers
        time.sleep(0.2)


def keys_for(namespace: str) -> Keys:
    return Keys(namespace)
