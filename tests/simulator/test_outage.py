"""The outage switch: TikTok down on every endpoint, charged like TikTok charges failures,
as an HTTP status or a dropped connection, and ending by itself when asked to."""

import time

import httpx
import pytest

from simulator.app import SimulatorApp
from simulator.corpus import FEATURED_QUERY
from simulator.faults import SimConfig
from tests.simulator.conftest import fresh_client

QUERY_PATH = "/v2/research/video/query/"
BODY = {"query": FEATURED_QUERY, "start_date": "20240201", "end_date": "20240202", "max_count": 5}


@pytest.fixture
def http(sim):
    """A client holding a token of key "outage", with 3 research requests a day."""
    with fresh_client(sim, SimConfig(daily_requests=3), client_key="outage") as client:
        yield client
        client.post("/_sim/config", json={"outage_status": 0})  # tests without a reset follow


def configure(http, **switches) -> dict:
    resp = http.post("/_sim/config", json=switches)
    assert resp.status_code == 200, resp.text
    return resp.json()


def query(http, **kwargs):
    return http.post(QUERY_PATH, params={"fields": "id"}, json=BODY, **kwargs)


def user_info(http):
    return http.post("/v2/research/user/info/", params={"fields": "display_name"}, json={"username": "vrtnws"})


def get_token(http):
    return http.post("/v2/oauth/token/", data={"client_key": "outage", "client_secret": "s",
                                               "grant_type": "client_credentials"})


def stats(http):
    return http.get("/_sim/stats").json()["clients"]["outage"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_outage_answers_every_endpoint_and_charges_research_only(http, status):
    configure(http, outage_status=status)
    answers = [get_token(http), query(http), user_info(http)]
    assert [resp.status_code for resp in answers] == [status] * 3
    for resp in answers:
        if status in (502, 504):  # gateways answer HTML
            assert resp.headers["content-type"].startswith("text/html")
            assert resp.text.startswith("<html>") and str(status) in resp.text
        else:
            body = resp.json()
            assert body["data"] == {} and body["error"]["code"] == "internal_error"
            assert body["error"]["message"] and body["error"]["log_id"]

    configure(http, outage_status=0)
    # Two research answers were charged, the token request was not: one request is left.
    assert query(http).status_code == 200
    assert query(http).status_code == 429
    client = stats(http)
    assert client["requests"] == 3 and client["status_5xx"] == 2
    assert client["token_requests"] == 2 and client["token_failures"] == 1
    assert client["by_status"] == {str(status): 2, "200": 1, "429": 1}


def test_outage_also_answers_requests_without_a_token_or_budget_uncharged(http):
    configure(http, daily_requests=1)
    assert query(http).status_code == 200  # the day's budget is spent
    configure(http, outage_status=503)
    assert query(http).status_code == 503  # rather than 429
    assert query(http, headers={"Authorization": "Bearer clt.unknown"}).status_code == 503  # rather than 401
    body = http.get("/_sim/stats").json()
    client = body["clients"]["outage"]
    assert client["requests"] == 1 and client["rejected_over_quota"] == 1
    assert client["by_status"] == {"200": 1, "503": 1}
    assert body["unauthenticated"] == 1
    assert body["faults"]["outage"] == 2 and body["faults"]["daily_429"] == 0


def test_reset_mode_drops_the_connection_unanswered(http):
    configure(http, outage_status=503, outage_mode="reset")
    with pytest.raises(httpx.TransportError):
        query(http)
    with pytest.raises(httpx.TransportError):
        get_token(http)
    configure(http, outage_status=0)  # the control endpoints stay up throughout
    assert query(http).status_code == 200
    client = stats(http)
    assert client["requests"] == 2 and client["by_status"] == {"reset": 1, "200": 1}


def test_outage_for_s_ends_by_itself(http):
    started = time.monotonic()
    shown = configure(http, outage_status=503, outage_for_s=0.5, daily_requests=10**6)  # polling is charged
    assert shown["outage_status"] == 503 and 0 < shown["outage_for_s"] <= 0.5
    assert query(http).status_code == 503

    deadline = started + 10
    while (status := query(http).status_code) == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == 200 and time.monotonic() - started >= 0.5
    config = http.get("/_sim/config").json()
    assert config["outage_status"] == 0 and config["outage_for_s"] is None


def test_outage_countdown_survives_other_switches_and_round_trips(http):
    for bad in ({"outage_status": 404}, {"outage_status": 600}, {"outage_mode": "down"}, {"outage_for_s": -1}):
        assert http.post("/_sim/config", json=bad).status_code == 400

    configure(http, outage_status=502, outage_for_s=30)
    assert 29 < configure(http, latency_ms=0)["outage_for_s"] <= 30  # another switch: countdown kept
    assert configure(http, outage_status=504)["outage_for_s"] > 29   # a new status: countdown kept
    saved = http.get("/_sim/config").json()
    assert configure(http, outage_status=0)["outage_for_s"] is None  # switched off: no countdown
    assert configure(http, outage_for_s=5)["outage_status"] == 0     # nothing to end

    restored = configure(http, **saved)  # what a test saved before its switches, put back
    assert restored["outage_status"] == 504 and 28 < restored["outage_for_s"] <= 30
    assert configure(http, outage_for_s=None)["outage_for_s"] is None  # until switched off
    assert query(http).status_code == 504


def token_status(app: SimulatorApp) -> int:
    form = b"client_key=k&client_secret=s&grant_type=client_credentials"
    return app.handle("POST", "/v2/oauth/token/", "", {}, form).status


def test_outage_time_is_real_time_not_the_quota_clock(sim):
    app = SimulatorApp(sim.corpus, SimConfig(outage_status=503, outage_for_s=60))
    app.clock.offset_s += 3 * 86400  # crossing quota days neither ends nor prolongs it
    view = app.config_view()
    assert view["outage_status"] == 503 and 59 < view["outage_for_s"] <= 60
    assert token_status(app) == 503


def test_a_countdown_that_ran_out_unobserved_ends_the_outage_at_the_next_change(sim):
    app = SimulatorApp(sim.corpus, SimConfig(outage_status=503, outage_for_s=0.05))
    deadline = time.monotonic() + 5
    while not app.outage.expired() and time.monotonic() < deadline:  # reads no switch
        time.sleep(0.01)
    assert app.set_config(latency_ms=1).outage_status == 0  # not carried on by the change
    app.set_config(outage_status=503, outage_for_s=0.05)
    while not app.outage.expired() and time.monotonic() < deadline:
        time.sleep(0.01)
    app.set_config(outage_status=502)  # a new outage, not bound by the old countdown
    assert token_status(app) == 502 and app.config_view()["outage_for_s"] is None
