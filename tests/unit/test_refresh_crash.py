"""A worker may die at any line of a compliance refresh too. Here it dies at every step in
turn — before and after each call into Redis, the files, the queues and TikTok — and the
message comes back to a fresh process. Every time, the same records stay, the same records
are in the removal log once each, and the quota counts every request TikTok saw (at most one
more: a call that died between taking its quota and going out)."""

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import msgspec
import pytest

from core import messages
from core.credentials import load_credentials
from core.messages import producer_broker
from producers import refresh
from producers.spec import validate
from schemas.messages import CommentTask, RefreshTask
from schemas.refresh import RemovalLog
from schemas.spec import HarvestPlan
from tests.unit.conftest import BASE_URL, NAMESPACE, PERIOD
from tests.unit.page_helpers import first
from tests.unit.refresh_helpers import RefreshTikTok, start_refresh
from tests.unit.test_crash_anywhere import Crash, Fuse, fused, instrument
from workers.comments import handle_comments
from workers.context import build_context
from workers.pages import handle_page
from workers.refresh import handle_refresh

GONE = {2, 6}


def harvested(ctx, settings, fake):
    """The done harvest the refresh is about (no crash here: not under test)."""
    plan = validate({"id": "refresh_crash", "project": "climate", "period": PERIOD, "accounts": ["alice"],
                     "collect": ["videos", "comments"]}, load_credentials(settings.credentials_file))
    assert ctx.store.register(plan)
    handle_page(ctx, first(plan), "m0", 0)
    while message_id := fake.lpop(f"{NAMESPACE}:comments"):
        message = msgspec.json.decode(fake.hget(f"{NAMESPACE}:comments.msgs", message_id))
        handle_comments(ctx, msgspec.convert(message["args"][0], CommentTask), message["message_id"], 0)
    assert ctx.store.status(plan.id).state == "done"
    return plan


@dataclasses.dataclass(frozen=True)
class Harvested:
    """A done harvest, made once and copied for every run: its Redis and its files."""

    plan: HarvestPlan
    redis: Any
    data_dir: Path

    def copy(self, settings) -> Any:
        fake = fakeredis.FakeRedis()
        for key in self.redis.scan_iter():
            fake.restore(key, max(0, self.redis.pttl(key)), self.redis.dump(key))
        shutil.copytree(self.data_dir, settings.data_dir)
        return fake


def run(settings, harvest: Harvested, monkeypatch, blow_at: int | None):
    fake: Any = harvest.copy(settings)  # its answers are bytes (no decoding asked)
    broker = producer_broker(settings, fake)
    tiktok = RefreshTikTok(gone=GONE, page_size=2)  # every batch of three paged
    http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(tiktok))
    ctx = build_context(settings, broker, redis=fake, http=http)
    plan = harvest.plan
    before = {path.name: json.loads(path.read_bytes()) for path in ctx.storage.records_dir(plan).glob("*.json")}
    used_before = ctx.quota.peek("climate-key").requests_used
    monkeypatch.setattr(refresh, "MAX_IDS", 3)  # eight videos: three batches
    assert start_refresh(ctx, plan).batches == 3

    fuse = Fuse(blow_at)
    monkeypatch.setattr(messages, "send", fused(messages.send, fuse))

    def new_process():
        fresh = build_context(settings, broker, redis=fake, http=http)
        instrument(fresh, fuse)
        for name in dir(fresh.refreshes):  # the refresh's own steps in Redis too
            if not name.startswith("_") and callable(getattr(fresh.refreshes, name)):
                setattr(fresh.refreshes, name, fused(getattr(fresh.refreshes, name), fuse))
        return fresh

    ctx, crashes = new_process(), 0
    while message_id := fake.lpop(f"{NAMESPACE}:lists"):
        message = msgspec.json.decode(fake.hget(f"{NAMESPACE}:lists.msgs", message_id))
        try:
            handle_refresh(ctx, msgspec.convert(message["args"][0], RefreshTask), message["message_id"], 0)
        except Crash:
            crashes += 1
            fake.rpush(f"{NAMESPACE}:lists", message_id)  # redelivered, to a new process
            ctx = new_process()
            continue
        fake.hdel(f"{NAMESPACE}:lists.msgs", message_id)

    ctx = build_context(settings, broker, redis=fake, http=http)  # reads the outcome: no crash here
    status = ctx.store.registered_status(plan.id)
    assert status.refresh is not None
    records = {path.name: json.loads(path.read_bytes()) for path in ctx.storage.records_dir(plan).glob("*.json")}
    for name, kept in records.items():  # what stays, stays as it was
        assert kept == [r for r in before[name] if r["@id"] in {k["@id"] for k in kept}], name
    logs = {}
    for path in ctx.storage.harvest_records(plan).joinpath("removed").rglob("*.json"):
        log = msgspec.json.decode(path.read_bytes(), type=RemovalLog)
        logs[path.name.split("_", 3)[3]] = sorted((r.id, r.kind, r.video_id) for r in log.removed)
        assert [json.loads(bytes(r.record)) for r in log.removed] == [
            r for r in before[log.source_file.rsplit("/", 1)[1]] if r["@id"] in {x.id for x in log.removed}]
    got = {
        "records": {name: sorted(r["@id"] for r in kept) for name, kept in records.items()},
        "logs": logs,
        # Requests are counted as they go out: one a crash repeated is a request too (checked below).
        "refresh": msgspec.structs.replace(status.refresh, id="", started_at=0.0, finished_at=0.0, requests=0),
        "state": status.state,
        "temporaries": [p.name for p in ctx.storage.root.rglob("*.tmp")],
        "sets_dropped": not fake.exists(ctx.keys.refresh_served(plan.id), ctx.keys.refresh_batches(plan.id)),
    }
    calls = tiktok.research_calls
    used = ctx.quota.peek("climate-key").requests_used - used_before
    assert calls <= status.refresh.requests <= calls + 1
    return got, crashes, fuse.ticks, calls, used


@pytest.fixture
def harness(settings, tmp_path, monkeypatch):
    # The crashes here are of processes, not machines: what fsync guards against is not at stake.
    monkeypatch.setattr("os.fsync", lambda fd: None)
    made = dataclasses.replace(settings, data_dir=tmp_path / "harvested")
    fake = fakeredis.FakeRedis()
    ctx = build_context(made, producer_broker(made, fake), redis=fake,
                        http=httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(RefreshTikTok())))
    harvest = Harvested(harvested(ctx, made, fake), fake, made.data_dir)

    def go(name: str, blow_at: int | None):
        with monkeypatch.context() as patch:
            return run(dataclasses.replace(settings, data_dir=tmp_path / name), harvest, patch, blow_at)

    return go


def test_a_crash_at_any_step_of_a_refresh_changes_nothing_in_the_result(harness):
    expected, crashes, steps, calls, used = harness("clean", None)
    assert crashes == 0 and calls == used == 4  # three batches, one of them on two pages
    assert expected["state"] == "done" and expected["temporaries"] == [] and expected["sets_dropped"]
    r = expected["refresh"]
    assert (r.state, r.batches_done, r.pages, r.still_served, r.gone) == ("done", 3, 4, 6, 2)
    assert (r.videos_removed, r.comments_removed) == (2, 3)
    assert sum(len(removed) for removed in expected["logs"].values()) == 5
    assert steps > 100  # every step of every message is a place to die

    for blow_at in range(1, steps + 1):
        got, crashes, _, calls, used = harness(f"crash-{blow_at}", blow_at)
        assert crashes == 1, blow_at
        assert got == expected, f"crash at step {blow_at}"
        assert calls <= used <= calls + 1, f"crash at step {blow_at}: {calls} calls, {used} counted"
