"""Playlists (workers/playlists.py): asked for once per harvest for each playlist a video
belongs to, paged, and written once as an ItemList of its videos in order when the last page
is in; a playlist TikTok no longer knows is recorded, not an error."""

import json

import httpx
import msgspec

from schemas.messages import PlaylistTask
from tests.unit.conftest import BIG, error_body, page_body, playlist_body, take, video
from tests.unit.page_helpers import END, START, first
from workers.pages import handle_page
from workers.playlists import handle_playlist

PLAYLIST = 7100000109608600760


def playlist_tasks(messages) -> list[PlaylistTask]:
    return [msgspec.convert(m.args[0], PlaylistTask) for m in messages]


def test_a_playlist_is_asked_for_once_and_written_once_in_order(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos", "playlists"])
    tiktok.add_video(START, END, None, page_body([video(1, playlist_id=PLAYLIST), video(2, playlist_id=PLAYLIST),
                                                  video(3)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    (task,) = playlist_tasks(take(fake, "lists"))
    assert task.playlist_id == str(PLAYLIST)
    tiktok.add_playlist(PLAYLIST, None, playlist_body(PLAYLIST, [BIG + 1, BIG + 2], cursor=2, has_more=True, total=4))
    handle_playlist(ctx, task, "p0", 0)
    assert not (ctx.storage.records_dir(plan) / f"tiktok_playlist_{PLAYLIST}.json").exists()  # not yet whole
    (following,) = playlist_tasks(take(fake, "lists"))
    tiktok.add_playlist(PLAYLIST, 2, playlist_body(PLAYLIST, [BIG + 2, BIG + 9], cursor=4, has_more=False, total=4))
    handle_playlist(ctx, following, "p1", 0)

    (record,) = json.loads((ctx.storage.records_dir(plan) / f"tiktok_playlist_{PLAYLIST}.json").read_bytes())
    assert record["@type"] == "ItemList" and record["@id"] == f"iCANDID_tiktok_playlist_{PLAYLIST}"
    assert record["numberOfItems"] == 4 and record["name"] == "Klimaat 🎬"
    assert [(i["position"], i["item"]["@id"]) for i in record["itemListElement"]] == [
        (1, f"iCANDID_tiktok_{BIG + 1}"), (2, f"iCANDID_tiktok_{BIG + 2}"), (3, f"iCANDID_tiktok_{BIG + 9}")]
    status = ctx.store.status(plan.id)
    assert status.state == "done" and status.endpoints["playlist_info"].records == 1


def test_a_playlist_tiktok_no_longer_knows_is_recorded(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos", "playlists"])
    task = PlaylistTask(plan.id, str(PLAYLIST))
    ctx.store.mark_chains_requested(plan.id, "playlist_info", [task.playlist_id])
    tiktok.add_playlist(PLAYLIST, None, httpx.Response(400, content=error_body("invalid_params",
                                                                              "Playlist not found")))
    handle_playlist(ctx, task, "p0", 0)
    assert fake.hgetall(ctx.keys.list_outcomes(plan.id)) == {f"playlist_info:{PLAYLIST}".encode(): b"unknown"}
    assert ctx.store.status(plan.id).endpoints["playlist_info"].chains_done == 1
