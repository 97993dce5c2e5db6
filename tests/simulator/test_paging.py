"""Video query over real HTTP: paging, ground truth, the 30-day rule, field selection."""

import re
import time

import httpx
import msgspec
import pytest

from simulator.app import VIDEO_FIELDS, SimulatorApp
from simulator.corpus import FEATURED_QUERY as FEATURED
from tests.simulator.conftest import fresh_client

QUERY_PATH = "/v2/research/video/query/"


@pytest.fixture
def client(sim):
    with fresh_client(sim, client_key="paging") as http:
        yield http


def query(client, body, fields="id,username"):
    return client.post(QUERY_PATH, params={"fields": fields}, json=body)


def harvest(client, body, fields="id"):
    """All pages of one search; returns (ids in order, list of page data)."""
    body, ids, pages = dict(body), [], []
    while True:
        resp = query(client, body, fields)
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        pages.append(data)
        ids += [v["id"] for v in data["videos"]]
        if not data["has_more"]:
            return ids, pages
        body.update(cursor=data["cursor"], search_id=data["search_id"])


def test_paging_returns_exactly_the_ground_truth(sim, client):
    body = {"query": FEATURED, "start_date": "20240301", "end_date": "20240331", "max_count": 100}
    ids, pages = harvest(client, body)
    assert ids == sim.corpus.matching_ids(FEATURED, "20240301", "20240331")
    assert len(ids) > 500
    truth = client.post("/_sim/ground_truth", json={"query": FEATURED, "start_date": "20240301",
                                                     "end_date": "20240331"}).json()
    assert truth["ids"] == [str(i) for i in ids] and truth["count"] == len(ids)


def test_cursor_advances_by_max_count_even_on_short_pages(client):
    body = {"query": FEATURED, "start_date": "20240101", "end_date": "20240131", "max_count": 50}
    ids, pages = harvest(client, body)
    assert [p["cursor"] for p in pages] == [50 * (i + 1) for i in range(len(pages))]
    short = [p for p in pages[:-1] if len(p["videos"]) < 50]
    assert short and all(p["has_more"] for p in short)
    assert all(isinstance(p["search_id"], str) for p in pages)


def test_default_max_count_and_limits(client):
    data = query(client, {"query": FEATURED, "start_date": "20240101", "end_date": "20240110"}).json()["data"]
    assert data["cursor"] == 20 and len(data["videos"]) <= 20
    for bad in (0, 101, "100"):
        resp = query(client, {"query": FEATURED, "start_date": "20240101", "end_date": "20240110", "max_count": bad})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


def test_thirty_day_rule(client):
    ok = query(client, {"query": FEATURED, "start_date": "20240101", "end_date": "20240131"})
    assert ok.status_code == 200
    for start, end in (("20240101", "20240201"), ("20240201", "20240101"), ("2024-01-01", "20240102")):
        resp = query(client, {"query": FEATURED, "start_date": start, "end_date": end})
        assert resp.status_code == 400
        err = resp.json()["error"]
        assert err["code"] == "invalid_params" and err["message"]
        assert re.fullmatch(r"\d{14}[0-9a-f]{20}", err["log_id"])


def test_fields_selection(client):
    body = {"query": FEATURED, "start_date": "20240101", "end_date": "20240131", "max_count": 100}
    videos = query(client, body, "id,create_time").json()["data"]["videos"]
    assert videos and all(set(v) == {"id", "create_time"} for v in videos)
    videos = query(client, body, "id,voice_to_text,music_id,effect_ids,video_label").json()["data"]["videos"]
    assert any("voice_to_text" not in v for v in videos) and any("voice_to_text" in v for v in videos)
    assert all(set(v) <= {"id", "voice_to_text", "music_id", "effect_ids", "video_label"} for v in videos)
    assert all(isinstance(e, str) for v in videos for e in v.get("effect_ids", []))
    for params in ({}, {"fields": ""}, {"fields": "id,colour"}):
        resp = client.post(QUERY_PATH, params=params, json=body)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


def test_ids_above_2_53_stay_exact_on_the_wire(sim, client):
    body = {"query": FEATURED, "start_date": "20240101", "end_date": "20240105", "max_count": 100}
    raw = query(client, body, "id").text
    wire = [int(x) for x in re.findall(r'"id":(\d+)', raw)]
    truth = sim.corpus.matching_ids(FEATURED, "20240101", "20240105")
    assert wire == truth[:len(wire)] and all(i > 2**53 for i in wire)


def test_unknown_search_id_and_bad_cursor(client):
    body = {"query": FEATURED, "start_date": "20240101", "end_date": "20240131", "cursor": 20,
            "search_id": "123456789"}
    resp = query(client, body)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Search Id 123456789 is invalid or expired"
    first = query(client, {"query": FEATURED, "start_date": "20240101", "end_date": "20240102"}).json()["data"]
    resp = query(client, {"query": FEATURED, "start_date": "20240101", "end_date": "20240102",
                          "search_id": first["search_id"], "cursor": 10**6})
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "Invalid count or cursor"


def test_search_ids_expire_from_the_lru(sim, client):
    client.post("/_sim/config", json={"search_cache_size": 2})
    body = {"query": FEATURED, "start_date": "20240101", "end_date": "20240102"}
    first = query(client, body).json()["data"]["search_id"]
    for _ in range(2):
        query(client, body)
    resp = query(client, dict(body, search_id=first, cursor=20))
    assert resp.json()["error"]["message"] == f"Search Id {first} is invalid or expired"


def test_bad_query_and_body_are_invalid_params(client):
    for body in ({"start_date": "20240101", "end_date": "20240102"},
                 {"query": {"and": [{"field_name": "colour", "operation": "EQ", "field_values": ["x"]}]},
                  "start_date": "20240101", "end_date": "20240102"}):
        resp = query(client, body)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"
    resp = client.post(QUERY_PATH, params={"fields": "id"}, content=b"{not json")
    assert resp.status_code == 400


def test_unknown_path_is_404_and_research_needs_a_token(sim):
    with httpx.Client(base_url=sim.url) as http:
        assert http.post("/v2/research/nothing/").status_code == 404
        resp = http.post(QUERY_PATH, params={"fields": "id"}, json={})
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "access_token_invalid"
        resp = http.post(QUERY_PATH, params={"fields": "id"}, json={}, headers={"Authorization": "Bearer clt.nope"})
        assert resp.status_code == 401


def test_a_100_video_page_costs_well_under_3ms_cpu(sim):
    app = SimulatorApp(sim.corpus)
    app.set_config(daily_requests=10**6, daily_records=10**9)
    token = msgspec.json.decode(app.handle("POST", "/v2/oauth/token/", "", {},
                                           b"client_key=k&client_secret=s&grant_type=client_credentials").body)
    headers = {"Authorization": "Bearer " + token["access_token"]}
    fields = "fields=" + ",".join(sorted(VIDEO_FIELDS))
    body = {"query": FEATURED, "start_date": "20240101", "end_date": "20240131", "max_count": 100}
    first = msgspec.json.decode(app.handle("POST", QUERY_PATH, fields, headers, msgspec.json.encode(body)).body)
    raw = msgspec.json.encode(dict(body, cursor=100, search_id=first["data"]["search_id"]))
    started = time.process_time()
    for _ in range(200):
        resp = app.handle("POST", QUERY_PATH, fields, headers, raw)
    assert resp.status == 200
    assert (time.process_time() - started) / 200 < 0.0015
