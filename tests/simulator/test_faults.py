"""Each fault switch produces its documented response; harvests under faults stay exact."""

import time
from typing import Any

import pytest

from simulator.corpus import FEATURED_QUERY
from simulator.faults import SimConfig
from tests.simulator.conftest import fresh_client

QUERY_PATH = "/v2/research/video/query/"
BODY: dict[str, Any] = {"query": FEATURED_QUERY, "start_date": "20240201", "end_date": "20240229", "max_count": 100}


@pytest.fixture
def http(sim):
    with fresh_client(sim, SimConfig(daily_requests=10**6), client_key="faults") as client:
        yield client


def configure(http, **switches):
    assert http.post("/_sim/config", json=switches).status_code == 200


def query(http, body=BODY):
    return http.post(QUERY_PATH, params={"fields": "id"}, json=body)


def first_page(http):
    data = query(http).json()["data"]
    return dict(BODY, cursor=data["cursor"], search_id=data["search_id"])


def stats(http):
    return http.get("/_sim/stats").json()["clients"]["faults"]


def test_500_counts_against_quota_and_scales_with_window(http):
    configure(http, error_500_rate=1.0)
    resp = query(http)
    assert resp.status_code == 500 and resp.json()["error"]["code"] == "internal_error"
    assert stats(http)["requests"] == 1 and stats(http)["status_5xx"] == 1
    configure(http, error_500_rate=0.6)
    one_day = dict(BODY, end_date="20240201")
    failures = sum(query(http, one_day).status_code == 500 for _ in range(60))
    assert failures <= 6  # 0.6 * 1/30 = 2 % per request at a one-day window


def test_user_500_has_an_empty_message(http):
    configure(http, user_500_rate=1.0)
    resp = http.post("/v2/research/user/info/", params={"fields": "display_name"}, json={"username": "vrtnws"})
    assert resp.status_code == 500 and resp.json()["error"]["message"] == ""


def test_throttle_429(http):
    configure(http, throttle_429_rate=1.0)
    resp = query(http)
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "rate_limit_exceeded"
    assert stats(http)["throttled"] == 1 and stats(http)["requests"] == 1


def test_malformed_200_is_cut_short(http):
    configure(http, malformed_rate=1.0)
    resp = query(http)
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()


def test_504_has_an_html_body(http):
    configure(http, error_504_rate=1.0)
    resp = query(http)
    assert resp.status_code == 504 and resp.headers["content-type"].startswith("text/html")
    assert resp.text.startswith("<html>")


def test_slow_and_latency(http):
    configure(http, slow_rate=1.0, slow_ms=300)
    started = time.monotonic()
    assert query(http).status_code == 200
    assert time.monotonic() - started >= 0.3
    configure(http, slow_rate=0.0, latency_ms=100, latency_jitter_ms=50)
    started = time.monotonic()
    query(http)
    assert 0.1 <= time.monotonic() - started < 1.0


@pytest.mark.parametrize("switch, message", [
    ("search_id_invalid_rate", "Search Id {sid} is invalid or expired"),
    ("invalid_cursor_rate", "Invalid count or cursor"),
])
def test_transient_400s_on_later_pages(http, switch, message):
    configure(http, **{switch: 1.0})
    body = first_page(http)  # the first page (no search_id) is never hit
    resp = query(http, body)
    assert resp.status_code == 400
    assert resp.json()["error"] == {**resp.json()["error"], "code": "invalid_params",
                                    "message": message.format(sid=body["search_id"])}
    configure(http, **{switch: 0.0})
    assert query(http, body).status_code == 200  # transient: the same request succeeds later


def test_empty_pages_keep_the_harvest_exact(sim, http):
    configure(http, empty_page_rate=0.3, search_id_change_rate=0.3)
    body, ids, empty, search_ids = dict(BODY), [], 0, set()
    while True:
        data = query(http, body).json()["data"]
        assert data["cursor"] == body.get("cursor", 0) + 100
        empty += not data["videos"] and data["has_more"]
        search_ids.add(data["search_id"])
        ids += [v["id"] for v in data["videos"]]
        if not data["has_more"]:
            break
        body.update(cursor=data["cursor"], search_id=data["search_id"])
    assert empty >= 1 and len(search_ids) > 1
    assert ids == sim.corpus.matching_ids(FEATURED_QUERY, BODY["start_date"], BODY["end_date"])


def test_faults_are_repeatable(http):
    def run():
        configure(http, throttle_429_rate=0.5)
        return [query(http).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second and 429 in first and 200 in first


def injected(http):
    return http.get("/_sim/stats").json()["faults"]


def user_info(http):
    return http.post("/v2/research/user/info/", params={"fields": "display_name"}, json={"username": "vrtnws"})


@pytest.mark.parametrize("switches, kind, send", [
    ({"error_500_rate": 1.0}, "error_500", query),
    ({"user_500_rate": 1.0}, "user_500", user_info),
    ({"error_504_rate": 1.0}, "error_504", query),
    ({"malformed_rate": 1.0}, "malformed", query),
    ({"throttle_429_rate": 1.0}, "throttle_429", query),
    ({"daily_requests": 0}, "daily_429", query),
    ({"search_id_invalid_rate": 1.0}, "search_id_invalid", lambda http: query(http, first_page(http))),
    ({"invalid_cursor_rate": 1.0}, "invalid_cursor", lambda http: query(http, first_page(http))),
    ({"empty_page_rate": 1.0}, "empty_page", query),
    ({"search_id_change_rate": 1.0}, "search_id_change", query),
    ({"slow_rate": 1.0, "slow_ms": 1}, "slow", query),
    ({"outage_status": 503}, "outage", query),
])
def test_each_injected_fault_is_counted_under_its_kind(http, switches, kind, send):
    assert set(injected(http).values()) == {0}
    configure(http, **switches)
    send(http)
    counts = injected(http)
    assert counts == dict.fromkeys(counts, 0) | {kind: 1}


def test_fault_counts_match_the_answers_and_reset_to_zero(http):
    configure(http, throttle_429_rate=0.3, error_504_rate=0.2, malformed_rate=0.2)
    answers = {"throttle_429": 0, "error_504": 0, "malformed": 0}
    for _ in range(60):
        resp = query(http)
        if resp.status_code == 429:
            answers["throttle_429"] += 1
        elif resp.status_code == 504:
            answers["error_504"] += 1
        else:
            try:
                resp.json()
            except ValueError:
                answers["malformed"] += 1
    assert all(answers.values())
    counts = injected(http)
    assert {kind: counts[kind] for kind in answers} == answers
    assert sum(counts.values()) == sum(answers.values())
    assert http.post("/_sim/stats/reset").status_code == 200
    assert set(injected(http).values()) == {0}
