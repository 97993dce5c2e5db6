"""Deleting videos for the compliance refresh's tests: a deleted video is served nowhere any
more (video queries by `video_id` included) and leaves the ground truth, until restored."""

import msgspec
import pytest

from simulator.corpus import FEATURED_QUERY
from simulator.faults import SimConfig
from tests.simulator.conftest import fresh_client

QUERY = "/v2/research/video/query/"
COMMENTS = "/v2/research/video/comment/list/"


@pytest.fixture
def http(sim):
    with fresh_client(sim, SimConfig(daily_requests=10**6), client_key="deletions") as client:
        yield client
        client.post("/_sim/restore_videos", json={})  # the corpus is the process's: leave it whole


def by_ids(http, ids: list[str]) -> list[str]:
    resp = http.post(QUERY, params={"fields": "id"}, json={
        "query": {"and": [{"field_name": "video_id", "operation": "IN", "field_values": ids}]},
        "start_date": "20240601", "end_date": "20240630", "max_count": 100})
    assert resp.status_code == 200, resp.text
    data = msgspec.json.decode(resp.content)["data"]
    assert not data["has_more"]
    return [str(video["id"]) for video in data["videos"]]


def truth(http) -> list[str]:
    return http.post("/_sim/ground_truth", json={"query": FEATURED_QUERY, "start_date": "20240601",
                                                 "end_date": "20240630"}).json()["ids"]


def test_a_deleted_video_is_served_nowhere_until_restored(http):
    ids = truth(http)[:20]
    assert sorted(by_ids(http, ids)) == sorted(ids)
    gone = ids[3:5]
    answer = http.post("/_sim/delete_videos", json={"ids": [*gone, "1"]}).json()
    assert answer == {"deleted": gone, "unknown": ["1"], "already_hidden": []}
    assert sorted(by_ids(http, ids)) == sorted(set(ids) - set(gone))
    assert not set(gone) & set(truth(http))
    comments = http.post(COMMENTS, params={"fields": "id"}, json={"video_id": int(gone[0]), "max_count": 10})
    assert comments.json()["data"]["comments"] == []  # as for a video TikTok does not know
    truths = http.post("/_sim/ground_truth/comments", json={"video_ids": gone}).json()["videos"]
    assert all(not video["ids"] for video in truths.values())

    assert http.post("/_sim/restore_videos", json={"ids": gone[:1]}).json() == {"restored": gone[:1]}
    assert http.post("/_sim/restore_videos", json={}).json() == {"restored": gone[1:]}
    assert sorted(by_ids(http, ids)) == sorted(ids) and set(ids) <= set(truth(http))


def test_deleting_needs_a_list_of_ids(http):
    assert http.post("/_sim/delete_videos", json={"ids": "123"}).status_code == 400
    assert http.post("/_sim/delete_videos", json={"ids": ["x"]}).status_code == 400
