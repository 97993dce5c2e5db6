"""The compliance refresh (producers/refresh.py, workers/refresh.py, workers/removals.py): the
stored videos are asked about again in batches, and the records of those TikTok no longer
serves — with their comments and the acts on them — move out of records/ into a dated
removal log, exactly once, however often a message comes back."""

import datetime as dt
import json

import msgspec
import pytest

from producers.refresh import RefreshRefused, plan_batches
from schemas.messages import RefreshTask
from schemas.refresh import RemovalLog
from tests.unit.conftest import BIG, WINDOW, take
from tests.unit.page_helpers import bucket
from tests.unit.refresh_helpers import (
    RefreshTikTok,
    done_harvest,
    record_ids,
    refresh_tasks,
    run_refresh,
    start_refresh,
    vid,
)
from workers import removals
from workers.account_video_records import act_record
from workers.records import encode_records, video_record
from workers.refresh import handle_refresh
from workers.storage import Storage
from workers.stored_videos import stored_videos

GONE = {2, 6}
PAGE = f"tiktok_videos_{WINDOW}_p00000.json"


@pytest.fixture
def tiktok():
    return RefreshTikTok(gone=GONE)


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d")


def logs(ctx, plan) -> dict[str, RemovalLog]:
    folder = ctx.storage.removed_dir(plan, today())
    return {path.name: msgspec.json.decode(path.read_bytes(), type=RemovalLog) for path in sorted(folder.glob("*"))}


def test_the_gone_videos_move_with_their_comments_into_the_removal_log_and_the_rest_stays(ctx, make_plan, fake,
                                                                                         tiktok):
    plan = done_harvest(ctx, make_plan, fake)
    folder = ctx.storage.records_dir(plan)
    before = {path.name: path.read_bytes() for path in folder.glob("*.json")}

    started = start_refresh(ctx, plan)
    assert (started.videos, started.unchecked, started.batches, started.batches_sent, started.joined) == (8, 0, 1, 1,
                                                                                                          False)
    assert run_refresh(ctx, fake) == 1

    (body,) = tiktok.refresh_bodies  # one request for the eight videos
    assert body["query"] == {"and": [{"field_name": "video_id", "operation": "IN",
                                      "field_values": [str(BIG + n) for n in range(4, 0, -1)]
                                      + [str(BIG + n) for n in range(8, 4, -1)]}]}
    # From the oldest video's day to the day after the newest's (in case TikTok's end is exclusive).
    assert (body["start_date"], body["end_date"], body["max_count"]) == ("20240102", "20240131", 8)

    assert record_ids(folder, "tiktok_videos_*.json") == sorted(vid(n) for n in (1, 3, 4, 5, 7, 8))
    kept = [r for r in json.loads(before[PAGE]) if r["@id"] not in (vid(2), vid(6))]
    assert json.loads((folder / PAGE).read_bytes()) == kept
    comments_of = f"tiktok_comments_{BIG + 2}_p00000.json"
    assert not (folder / comments_of).exists()  # went whole
    other = f"tiktok_comments_{BIG + 3}_p00000.json"
    assert (folder / other).read_bytes() == before[other]  # untouched

    refresh_id = started.refresh
    found = logs(ctx, plan)
    assert sorted(found) == [f"tiktok_removed_{refresh_id}_{comments_of}", f"tiktok_removed_{refresh_id}_{PAGE}"]
    videos = found[f"tiktok_removed_{refresh_id}_{PAGE}"]
    assert (videos.harvest, videos.refresh) == (plan.id, refresh_id)
    assert videos.source_file == f"new/{plan.storage_date}/{PAGE}"
    assert [(r.id, r.kind, r.video_id) for r in videos.removed] == [(vid(6), "video", str(BIG + 6)),
                                                                    (vid(2), "video", str(BIG + 2))]
    stored = {r["@id"]: r for r in json.loads(before[PAGE])}
    assert [json.loads(bytes(r.record)) for r in videos.removed] == [stored[vid(6)], stored[vid(2)]]
    comments = found[f"tiktok_removed_{refresh_id}_{comments_of}"]
    assert [r.kind for r in comments.removed] == ["comment"] * 3 and json.loads(before[comments_of]) == [
        json.loads(bytes(r.record)) for r in comments.removed]

    status = ctx.store.status(plan.id)
    assert status.state == "done"
    r = status.refresh
    assert (r.state, r.batches_done, r.batches, r.pages, r.requests, r.still_served, r.gone) == ("done", 1, 1, 1, 1,
                                                                                                 6, 2)
    assert (r.videos_removed, r.comments_removed, r.acts_removed) == (2, 3, 0)
    assert status.endpoints["refresh"].outcomes == {"gone": 2}
    assert ctx.redis.zscore(ctx.keys.quota_active(plan.credential), plan.id) is None  # left the fair share
    assert not ctx.redis.exists(ctx.keys.refresh_served(plan.id), ctx.keys.refresh_batches(plan.id))
    assert all(ctx.redis.ttl(key) > 0 for key in ctx.redis.scan_iter(f"{ctx.keys.namespace}:h:{plan.id}:*"))


def test_status_shows_the_refresh_and_where_its_removal_log_is(ctx, make_plan, fake, tiktok):
    from rich.console import Console

    from harvest_cli.render import status_panel

    plan = done_harvest(ctx, make_plan, fake)
    start_refresh(ctx, plan)
    status = ctx.store.registered_status(plan.id)
    assert status.refresh is not None and status.refresh.state == "running"
    run_refresh(ctx, fake)
    status = ctx.store.registered_status(plan.id)
    status.storage["records"] = str(ctx.storage.records_dir(plan))
    console = Console(width=300, record=True)
    console.print(status_panel(status))
    text = console.export_text()
    assert f"{status.refresh.id}, done: 1/1 batches of 8 videos, 1 requests; 6 still served, 2 gone" in text
    removed = ctx.storage.harvest_records(plan) / "removed"
    assert f"moved 2 videos, 3 comments and 0 likes, pins or reposts into {removed}" in text


def test_a_refresh_message_handled_twice_pays_once_and_moves_once(ctx, make_plan, fake, tiktok):
    plan = done_harvest(ctx, make_plan, fake)
    start_refresh(ctx, plan)
    (message,) = take(fake, "lists")
    task = msgspec.convert(message.args[0], RefreshTask)
    handle_refresh(ctx, task, message.message_id, 0)
    calls, used = tiktok.research_calls, bucket(ctx, plan).requests_used
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in ctx.storage.root.rglob("*") if p.is_file()}

    handle_refresh(ctx, task, message.message_id, 0)  # redelivered
    handle_refresh(ctx, task, "a-duplicate", 0)  # or sent twice
    assert (tiktok.research_calls, bucket(ctx, plan).requests_used) == (calls, used)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in ctx.storage.root.rglob("*") if p.is_file()} == files
    assert ctx.store.status(plan.id).refresh.videos_removed == 2


class Crash(BaseException):
    """The worker dies here."""


def test_a_worker_dying_after_the_answer_is_stored_does_not_pay_again(ctx, make_plan, fake, tiktok, monkeypatch):
    plan = done_harvest(ctx, make_plan, fake)
    start_refresh(ctx, plan)
    (message,) = take(fake, "lists")
    task = msgspec.convert(message.args[0], RefreshTask)
    used = bucket(ctx, plan).requests_used
    with monkeypatch.context() as patch:
        patch.setattr(ctx.refreshes, "page_done", lambda *a, **k: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            handle_refresh(ctx, task, message.message_id, 0)
    handle_refresh(ctx, task, message.message_id, 0)
    assert len(tiktok.refresh_bodies) == 1 and bucket(ctx, plan).requests_used == used + 1
    kept = record_ids(ctx.storage.records_dir(plan), "tiktok_videos_*.json")
    assert kept == sorted(vid(n) for n in (1, 3, 4, 5, 7, 8))


@pytest.mark.parametrize("dies_at_write", [1, 2, 3])
def test_a_worker_dying_in_the_middle_of_the_move_leaves_it_to_the_message_coming_back(ctx, make_plan, fake, tiktok,
                                                                                       monkeypatch, dies_at_write):
    """Writes: the page's log, the page rewritten, the comments' log (then the comment file is
    deleted). Whichever the worker dies at, the result is the same, each record logged once."""
    plan = done_harvest(ctx, make_plan, fake)
    start_refresh(ctx, plan)
    (message,) = take(fake, "lists")
    task = msgspec.convert(message.args[0], RefreshTask)
    real, writes = ctx.storage.write_file, []

    def dying(path, body):
        writes.append(path.name)
        if len(writes) == dies_at_write:
            raise Crash()
        return real(path, body)

    with monkeypatch.context() as patch:
        patch.setattr(ctx.storage, "write_file", dying)
        with pytest.raises(Crash):
            handle_refresh(ctx, task, message.message_id, 0)
    assert ctx.store.status(plan.id).refresh.state == "moving"
    handle_refresh(ctx, task, message.message_id, 0)  # its unit is done: it finishes the refresh

    assert record_ids(ctx.storage.records_dir(plan)) == sorted(
        [vid(n) for n in (1, 3, 4, 5, 7, 8)] + [f"iCANDID_tiktok_comment_{BIG + 500_000 + 300 + i}" for i in range(2)])
    found = logs(ctx, plan)
    assert sorted(r.id for log in found.values() for r in log.removed) == sorted(
        [vid(2), vid(6)] + [f"iCANDID_tiktok_comment_{BIG + 500_000 + 200 + i}" for i in range(3)])
    r = ctx.store.status(plan.id).refresh
    assert (r.state, r.videos_removed, r.comments_removed, r.requests) == ("done", 2, 3, 1)


def test_a_second_refresh_while_one_runs_joins_it(ctx, make_plan, fake, tiktok):
    plan = done_harvest(ctx, make_plan, fake)
    first = start_refresh(ctx, plan)
    again = start_refresh(ctx, plan)
    assert again.joined and again.refresh == first.refresh and again.batches_sent == 1
    assert [t.batch for t in refresh_tasks(take(fake, "lists"))] == [0, 0]  # the duplicate is dropped by its unit
    handle_refresh(ctx, RefreshTask(plan.id, first.refresh, 0), "m1", 0)
    handle_refresh(ctx, RefreshTask(plan.id, first.refresh, 0), "m2", 0)
    assert len(tiktok.refresh_bodies) == 1 and ctx.store.status(plan.id).refresh.state == "done"


def test_a_later_refresh_finds_what_went_since(ctx, make_plan, fake, tiktok):
    plan = done_harvest(ctx, make_plan, fake)
    tiktok.gone = set()
    start_refresh(ctx, plan, now=1_900_000_000)
    run_refresh(ctx, fake)
    assert ctx.store.status(plan.id).refresh.gone == 0
    assert not ctx.storage.harvest_records(plan).joinpath("removed").exists()

    tiktok.gone = {2}
    first = start_refresh(ctx, plan, now=1_900_000_600)
    run_refresh(ctx, fake)
    tiktok.gone = {2, 3}
    second = start_refresh(ctx, plan, now=1_900_000_600)  # within the same second: a later id all the same
    assert (first.refresh, second.refresh) == ("20300317T175640Z", "20300317T175641Z")
    assert second.videos == 7 and not second.joined
    run_refresh(ctx, fake)
    r = ctx.store.status(plan.id).refresh
    assert (r.id, r.gone, r.videos_removed, r.comments_removed) == (second.refresh, 1, 1, 2)
    assert sorted(logs(ctx, plan)) == sorted(
        f"tiktok_removed_{refresh_id}_{name}" for refresh_id, n in ((first.refresh, 2), (second.refresh, 3))
        for name in (PAGE, f"tiktok_comments_{BIG + n}_p00000.json"))


def test_a_batch_answered_over_several_pages(ctx, make_plan, fake, tiktok):
    tiktok.page_size = 4  # six videos still served: two pages
    plan = done_harvest(ctx, make_plan, fake)
    start_refresh(ctx, plan)
    assert run_refresh(ctx, fake) == 2
    assert [b.get("cursor") for b in tiktok.refresh_bodies] == [None, 4]
    assert tiktok.refresh_bodies[1]["search_id"] == "S1"
    r = ctx.store.status(plan.id).refresh
    assert (r.pages, r.requests, r.still_served, r.gone) == (2, 2, 6, 2)


def test_only_a_done_harvest_is_refreshed(ctx, make_plan, fake, tiktok):
    plan = make_plan(collect=["videos"])
    with pytest.raises(RefreshRefused, match="it is queued: only a done harvest can be refreshed"):
        start_refresh(ctx, plan)
    with pytest.raises(RefreshRefused, match="no such harvest"):
        from producers import refresh
        refresh.start(ctx.redis, ctx.keys, ctx.broker, "nope", lambda p: ([], 0), keep_s=60)
    assert not take(fake, "lists")


def test_batches_hold_at_most_100_videos_of_one_window_the_api_accepts_newest_first():
    day = dt.date(2024, 3, 1)
    videos = [(str(BIG + n), day) for n in range(250)]  # one busy day
    videos += [(str(BIG + 1000 + d), day - dt.timedelta(days=d)) for d in range(1, 61)]  # one a day before it
    batches = plan_batches(videos, today=dt.date(2025, 1, 1))
    assert [len(b.video_ids) for b in batches] == [100, 100, 79, 30, 1]
    assert batches[0].video_ids[0] == str(BIG + 249)  # newest first (ids rise with time)
    for batch in batches:
        start = dt.datetime.strptime(batch.start_date, "%Y%m%d")
        end = dt.datetime.strptime(batch.end_date, "%Y%m%d")
        assert 1 <= (end - start).days <= 30
    assert (batches[2].start_date, batches[2].end_date) == ("20240201", "20240302")
    assert plan_batches([(str(BIG), day)], today=day) == [plan_batches([(str(BIG), day)], today=day)[0]]
    assert plan_batches([(str(BIG), day)], today=day)[0].end_date == "20240301"  # never past today


def test_the_stored_videos_are_read_from_the_pages_and_the_accounts_lists(ctx, make_plan):
    plan = make_plan(collect=["videos", "liked_videos"])
    from schemas.api import Video
    from tests.unit.conftest import video

    def record(n: int, **fields):
        return video_record(msgspec.convert(video(n, **fields), Video), plan, dt.datetime.now(dt.UTC))

    undated = record(2, create_time=None)
    ctx.storage.write_records(plan, Storage.page_name(WINDOW, 0), encode_records([record(1), undated]))
    ctx.storage.write_records(plan, Storage.account_videos_name("liked", "alice", 0),
                              encode_records([record(3), act_record("liked", "alice", str(BIG + 3), plan)]))
    dated, unchecked = stored_videos(ctx.storage, plan)
    assert dated == [(str(BIG + 1), dt.date(2024, 1, 2)), (str(BIG + 3), dt.date(2024, 1, 2))]
    assert unchecked == 1


def test_the_likes_pins_and_reposts_of_a_gone_video_go_with_it(ctx, make_plan):
    plan = make_plan(collect=["videos", "liked_videos", "pinned_videos"])
    from schemas.api import Video
    from tests.unit.conftest import video

    def record(n: int):
        return video_record(msgspec.convert(video(n), Video), plan, dt.datetime.now(dt.UTC))

    liked = Storage.account_videos_name("liked", "alice", 0)
    pinned = Storage.account_videos_name("pinned", "alice", 0)
    likes = [act_record("liked", "alice", str(BIG + n), plan) for n in (3, 4)]
    ctx.storage.write_records(plan, liked, encode_records([record(3), likes[0], record(4), likes[1]]))
    ctx.storage.write_records(plan, pinned, encode_records([act_record("pinned", "alice", str(BIG + 3), plan)]))
    decided_at = 1_900_000_000.0
    for _ in range(2):  # a repeat changes nothing
        removals.move_gone(ctx.storage, plan, {str(BIG + 3)}, refresh_id="R1", decided_at=decided_at)
    folder = ctx.storage.records_dir(plan)
    assert record_ids(folder) == sorted([vid(4), f"iCANDID_tiktok_like_alice~{BIG + 4}"])
    assert not (folder / pinned).exists()  # nothing left in it
    counted = removals.count_removed(ctx.storage, plan, "R1", decided_at)
    assert counted == {"video": 1, "act": 2}
    day = removals.removal_day(decided_at)
    log = msgspec.json.decode((ctx.storage.removed_dir(plan, day) / f"tiktok_removed_R1_{liked}").read_bytes(),
                              type=RemovalLog)
    assert [(r.kind, r.video_id) for r in log.removed] == [("video", str(BIG + 3)), ("act", str(BIG + 3))]
