"""Playlists: grouped with the corpus, the playlist info endpoint's paging, fields, unknown
ids, faults and ground truth."""

from collections import Counter

import msgspec
import pytest

from simulator.app import SimulatorApp
from simulator.corpus import Corpus
from simulator.faults import SimConfig
from tests.simulator.conftest import fresh_client

PATH = "/v2/research/playlist/info/"
FIELDS = "playlist_id,playlist_name,playlist_item_total,playlist_last_updated"


@pytest.fixture
def http(sim):
    with fresh_client(sim, SimConfig(daily_requests=10**6), client_key="playlists") as client:
        yield client


def info(http, body, fields=FIELDS):
    return http.post(PATH, params={"fields": fields}, json=body)


def harvest(http, playlist_id, max_count=None):
    body = {"playlist_id": str(playlist_id)} | ({"max_count": max_count} if max_count else {})
    found, pages = [], []
    while True:
        resp = info(http, body)
        assert resp.status_code == 200, resp.text
        data = msgspec.json.decode(resp.content)["data"]
        pages.append(data)
        found += data["playlist_video_ids"]
        if not data["has_more"]:
            return found, pages
        body["cursor"] = data["cursor"]


def truth(http, *playlist_ids):
    resp = http.post("/_sim/ground_truth/playlists", json={"playlist_ids": [str(i) for i in playlist_ids]})
    assert resp.status_code == 200, resp.text
    return resp.json()["playlists"]


def configure(http, **switches):
    assert http.post("/_sim/config", json=switches).status_code == 200


def largest(corpus):
    return max(corpus.playlists, key=lambda p: len(corpus.playlists[p]))


def with_hidden(corpus):
    return next(p for p, members in corpus.playlists.items()
                if len(members) > 10 and any(corpus.videos[i].hidden for i in members))


# -- the playlists --------------------------------------------------------------------------

def test_a_playlist_is_a_run_of_one_authors_videos_in_posting_order(sim):
    corpus = sim.corpus
    carried = Counter(v.playlist_id for v in corpus.videos if v.playlist_id is not None)
    assert carried == {p: len(members) for p, members in corpus.playlists.items()}
    assert 0.08 < sum(carried.values()) / len(corpus.videos) < 0.12
    for members in corpus.playlists.values():
        assert len({corpus.videos[i].username for i in members}) == 1 and members == sorted(members)
    assert all(p > 2**53 for p in corpus.playlists)
    owners = Counter(corpus.videos[m[0]].username for m in corpus.playlists.values())
    assert owners["vrtnws"] == owners["hln_be"] == 3
    # The numbers documented in simulator/playlists.py: update both together.
    assert (len(corpus.playlists), len(corpus.playlists[largest(corpus)])) == (1579, 130)


def test_playlists_are_the_same_for_the_same_seed():
    a, b = Corpus(seed=3, videos=3000), Corpus(seed=3, videos=3000)
    assert a.playlists == b.playlists and a.playlists != Corpus(seed=4, videos=3000).playlists


def test_the_video_query_serves_the_playlist_id(sim, http):
    playlist_id = largest(sim.corpus)
    video = next(sim.corpus.videos[i] for i in sim.corpus.playlists[playlist_id] if not sim.corpus.videos[i].hidden)
    day = str(video.create_date)
    query = {"query": {"and": [{"field_name": "video_id", "operation": "EQ", "field_values": [str(video.id)]}]},
             "start_date": day, "end_date": day}
    resp = http.post("/v2/research/video/query/", params={"fields": "id,playlist_id"}, json=query)
    assert msgspec.json.decode(resp.content)["data"]["videos"] == [{"id": video.id, "playlist_id": playlist_id}]


# -- the endpoint ---------------------------------------------------------------------------

def test_paging_collects_every_shown_video_once_and_equals_the_ground_truth(sim, http):
    playlist_id = largest(sim.corpus)
    found, pages = harvest(http, playlist_id, max_count=100)
    members = sim.corpus.playlists[playlist_id]
    assert [(p["cursor"], p["has_more"]) for p in pages] == [(100, True), (len(members), False)]
    expected = truth(http, playlist_id)[str(playlist_id)]
    assert [str(i) for i in found] == expected["ids"] and len(found) == len(set(found))
    assert expected["found"] and expected["playlist_item_total"] == len(members)
    by_twenty, pages = harvest(http, playlist_id)
    assert by_twenty == found and all(p["cursor"] % 20 == 0 for p in pages[:-1])


def test_the_item_total_counts_videos_no_longer_shown(sim, http):
    playlist_id = with_hidden(sim.corpus)
    found, _ = harvest(http, playlist_id, max_count=100)
    total = info(http, {"playlist_id": playlist_id}).json()["data"]["playlist_item_total"]
    assert len(found) < total == len(sim.corpus.playlists[playlist_id])
    assert [str(i) for i in found] == truth(http, playlist_id)[str(playlist_id)]["ids"]


def test_fields_are_honoured_and_the_video_ids_always_come(sim, http):
    playlist_id = largest(sim.corpus)
    everything = info(http, {"playlist_id": playlist_id}).json()["data"]
    assert set(everything) == set(FIELDS.split(",")) | {"playlist_video_ids", "cursor", "has_more"}
    assert everything["playlist_id"] == playlist_id and everything["playlist_name"]
    newest = max(sim.corpus.videos[i].create_time for i in sim.corpus.playlists[playlist_id])
    assert newest <= everything["playlist_last_updated"] < newest + 86400
    named = info(http, {"playlist_id": playlist_id}, "playlist_name").json()["data"]
    assert set(named) == {"playlist_name", "playlist_video_ids", "cursor", "has_more"}
    assert named["playlist_name"] == everything["playlist_name"]
    for fields in ("playlist_id,owner", "", None):
        resp = http.post(PATH, params={"fields": fields} if fields is not None else {},
                         json={"playlist_id": playlist_id})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"
    truth_fields = truth(http, playlist_id)[str(playlist_id)]
    assert {k: truth_fields[k] for k in FIELDS.split(",")} == {k: everything[k] for k in FIELDS.split(",")}


def test_ids_above_2_53_stay_exact_in_the_json(sim, http):
    playlist_id = largest(sim.corpus)
    resp = info(http, {"playlist_id": str(playlist_id), "max_count": 100})
    assert b'"playlist_id":%d' % playlist_id in resp.content
    first = next(sim.corpus.videos[i].id for i in sim.corpus.playlists[playlist_id] if not sim.corpus.videos[i].hidden)
    assert b"%d" % first in resp.content and first > 2**53


def test_an_unknown_playlist_answers_400_and_the_ground_truth_says_not_found(sim, http):
    unknown = 7_100_000_000_000_000_000 - 1
    resp = info(http, {"playlist_id": unknown})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"
    assert str(unknown) in resp.json()["error"]["message"]
    assert truth(http, unknown) == {str(unknown): {"found": False, "ids": []}}


@pytest.mark.parametrize("body", [{}, {"playlist_id": "abc"}, {"playlist_id": -1}, {"playlist_id": 1.5},
                                  {"playlist_id": 1, "max_count": 0}, {"playlist_id": 1, "cursor": -2}])
def test_bad_bodies_are_refused(http, body):
    resp = info(http, body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


def test_ground_truth_refuses_what_is_not_a_list_of_ids(http):
    for body in ({}, {"playlist_ids": "7100000000000000000"}, {"playlist_ids": ["x"]}):
        assert http.post("/_sim/ground_truth/playlists", json=body).status_code == 400


def test_the_apps_ground_truth_equals_the_endpoints(sim, http):
    ids = [largest(sim.corpus), with_hidden(sim.corpus), 5]
    assert SimulatorApp(sim.corpus).playlist_ground_truth(ids) == {"playlists": truth(http, *ids)}


# -- the research request path ------------------------------------------------------------

def test_each_request_is_charged_to_the_research_budget_and_its_ids_counted_as_records(sim):
    playlist_id = largest(sim.corpus)
    with fresh_client(sim, SimConfig(daily_requests=2), client_key="playlist-budget") as client:
        sizes = [len(info(client, {"playlist_id": playlist_id, "max_count": 10}).json()["data"]["playlist_video_ids"])
                 for _ in range(2)]
        assert info(client, {"playlist_id": playlist_id}).status_code == 429
        stats = client.get("/_sim/stats").json()["clients"]["playlist-budget"]
        assert stats["requests"] == 2 and stats["records"] == sum(sizes)
        assert stats["by_endpoint"] == {"playlist_info": 2}


@pytest.mark.parametrize("switches, kind, status", [
    ({"playlist_500_rate": 1.0}, "playlist_500", 500),
    ({"user_500_rate": 1.0, "comment_500_rate": 1.0, "error_500_rate": 1.0}, None, 200),
    ({"throttle_429_rate": 1.0}, "throttle_429", 429),
    ({"error_504_rate": 1.0}, "error_504", 504),
    ({"malformed_rate": 1.0}, "malformed", 200),
    ({"outage_status": 503}, "outage", 503),
])
def test_faults_apply_to_playlists_and_are_counted_under_their_kind(sim, http, switches, kind, status):
    configure(http, **switches)
    resp = info(http, {"playlist_id": largest(sim.corpus)})
    configure(http, outage_status=0)
    assert resp.status_code == status
    if kind == "malformed":
        with pytest.raises(ValueError):
            resp.json()
    if kind == "playlist_500":
        assert resp.json()["error"]["code"] == "internal_error" and resp.json()["error"]["message"]
    counts = http.get("/_sim/stats").json()["faults"]
    assert counts == dict.fromkeys(counts, 0) | ({kind: 1} if kind else {})
