"""OAuth, token expiry, daily budgets and their reset, stats, and user info over HTTP."""

import datetime as dt
import time

import httpx
import pytest

from simulator.corpus import FEATURED_QUERY
from simulator.server import SimulatorServer
from tests.simulator.conftest import fresh_client

TOKEN_PATH = "/v2/oauth/token/"
USER_PATH = "/v2/research/user/info/"
USER_FIELDS = "display_name,bio_description,avatar_url,is_verified,follower_count,following_count," \
              "likes_count,video_count,bio_url"
VIDEO_BODY = {"query": FEATURED_QUERY, "start_date": "20240101", "end_date": "20240102", "max_count": 5}


@pytest.fixture
def http(sim):
    """A client on a simulator with default switches, clean stats and an unshifted clock."""
    with fresh_client(sim) as client:
        yield client


def get_token(http, key="key-a", secret="secret", **form):
    data = {"client_key": key, "client_secret": secret, "grant_type": "client_credentials", **form}
    return http.post(TOKEN_PATH, data=data)


def auth(http, key="key-a"):
    return {"Authorization": "Bearer " + get_token(http, key).json()["access_token"]}


def video_query(http, headers):
    return http.post("/v2/research/video/query/", params={"fields": "id"}, json=VIDEO_BODY, headers=headers)


def test_token_shape(http):
    body = get_token(http).json()
    assert body["access_token"].startswith("clt.") and body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200


@pytest.mark.parametrize("status", [200, 401])
def test_oauth_failures(http, status):
    http.post("/_sim/config", json={"oauth_error_status": status})
    for secret, form in (("wrong", {}), ("revoked-2024", {}), ("ok", {"grant_type": "password"}), ("", {})):
        resp = get_token(http, secret=secret, **form)
        assert resp.status_code == status
        body = resp.json()
        assert body["error"] in ("invalid_client", "unsupported_grant_type", "invalid_request")
        assert body["error_description"] and body["log_id"] and "access_token" not in body
    assert get_token(http, secret="wrong").json()["error"] == "invalid_client"


def test_credentials_file_limits_valid_pairs(tmp_path):
    path = tmp_path / "credentials.toml"
    path.write_text('[credentials.team]\nclient_key = "abc"\nclient_secret = "xyz"\nlabel = "ignored"\n')
    with SimulatorServer(credentials_file=path) as server, httpx.Client(base_url=server.url) as client:
        assert get_token(client, "abc", "xyz").json()["access_token"]
        assert get_token(client, "abc", "other").json()["error"] == "invalid_client"
        assert get_token(client, "other", "xyz").json()["error"] == "invalid_client"


def test_token_expires_on_the_simulator_clock(http):
    http.post("/_sim/config", json={"token_ttl_s": 60})
    token = get_token(http).json()
    assert token["expires_in"] == 60
    headers = {"Authorization": "Bearer " + token["access_token"]}
    assert video_query(http, headers).status_code == 200
    http.post("/_sim/clock", json={"advance_s": 61})
    resp = video_query(http, headers)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "access_token_invalid"
    assert video_query(http, auth(http)).status_code == 200


def _set_clock_to(http, when: dt.datetime):
    http.post("/_sim/clock", json={"offset_s": when.timestamp() - time.time()})


def test_daily_quota_and_reset_at_utc_midnight(http):
    http.post("/_sim/config", json={"daily_requests": 3})
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    _set_clock_to(http, midnight - dt.timedelta(seconds=30))
    headers = auth(http)
    for _ in range(5):  # token requests never count
        get_token(http)
    bad = http.post("/v2/research/video/query/", params={"fields": "id"}, json={}, headers=headers)
    assert bad.status_code == 400  # failed requests count too
    assert [video_query(http, headers).status_code for _ in range(3)] == [200, 200, 429]
    resp = video_query(http, headers)
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"
    assert video_query(http, auth(http, "key-b")).status_code == 200  # budgets are per client key
    http.post("/_sim/clock", json={"advance_s": 31})
    assert video_query(http, headers).status_code == 200

    stats = http.get("/_sim/stats").json()["clients"]["key-a"]
    assert stats["requests"] == 4 and stats["rejected_over_quota"] == 2 and stats["status_429"] == 2
    assert stats["token_requests"] == 6 and stats["by_endpoint"] == {"video_query": 4}
    days = stats["days"]
    assert sorted(d["requests"] for d in days.values()) == [1, 3]


def test_quota_reset_lag_keeps_429_after_midnight(http):
    http.post("/_sim/config", json={"daily_requests": 1, "quota_reset_lag_s": 120})
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    _set_clock_to(http, midnight - dt.timedelta(seconds=30))
    headers = auth(http)
    assert video_query(http, headers).status_code == 200
    http.post("/_sim/clock", json={"advance_s": 60})  # 00:00:30 UTC: still the old quota day
    assert video_query(http, headers).status_code == 429
    http.post("/_sim/clock", json={"advance_s": 120})  # 00:02:30 UTC
    assert video_query(http, headers).status_code == 200


def test_records_budget(http):
    http.post("/_sim/config", json={"daily_records": 5})
    headers = auth(http)
    assert video_query(http, headers).status_code == 200  # returns 5 records
    assert video_query(http, headers).status_code == 429


def test_user_info_fields_and_statuses(sim, http):
    headers = auth(http)
    corpus = sim.corpus

    def user(name, fields=USER_FIELDS):
        return http.post(USER_PATH, params={"fields": fields}, json={"username": name}, headers=headers)

    resp = user("vrtnws")
    data = resp.json()["data"]
    assert resp.status_code == 200 and "username" not in data
    assert data["display_name"] == "VRT NWS" and data["is_verified"] is True
    assert set(data) <= set(USER_FIELDS.split(",")) and "follower_count" in data
    assert set(user("vrtnws", "display_name,video_count").json()["data"]) == {"display_name", "video_count"}
    assert user("vrtnws", "username").status_code == 400
    assert http.post(USER_PATH, json={"username": "vrtnws"}, headers=headers).status_code == 400

    by_status: dict[str, str] = {}
    for account in corpus.accounts:
        by_status.setdefault(corpus.user_status(account.username), account.username)
    expected = {"private": "is private", "restricted": "API cannot return this user's information"}
    for status, fragment in expected.items():
        resp = user(by_status[status])
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"
        assert fragment in resp.json()["error"]["message"]
    resp = user("nobody_here_42")
    assert resp.status_code == 400 and "cannot find the user" in resp.json()["error"]["message"]
    assert http.get("/_sim/stats").json()["clients"]["key-a"]["by_endpoint"]["user_info"] == 7


def test_control_endpoints(http):
    assert http.get("/_sim/health").json()["status"] == "ok"
    assert http.post("/_sim/config", json={"error_500_rate": 2}).status_code == 400
    assert http.post("/_sim/config", json={"no_such_switch": 1}).status_code == 400
    assert http.post("/_sim/config", json={"latency_ms": 1.5}).json()["latency_ms"] == 1.5
    assert http.get("/_sim/config").json()["latency_ms"] == 1.5
    assert http.post("/_sim/ground_truth", json={"query": {}, "start_date": "20240101",
                                                 "end_date": "20240102"}).status_code == 400
