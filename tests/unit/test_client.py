"""TikTokClient (workers/tiktok/client.py) against a mocked TikTok (respx): requests, decoding and
the sorting of every failure into the error the fleet acts on."""

import json
import traceback

import httpx
import pytest
import respx

from schemas.api import USER_FIELDS, VIDEO_FIELDS, VideoQueryBody
from schemas.query import Condition, Query
from tests.unit.conftest import (
    BASE_URL,
    CLIENT_KEY,
    CLIENT_SECRET,
    TOKEN,
    USER_INFO,
    VIDEO_QUERY,
    error_body,
)
from workers.tiktok.client import TikTokClient
from workers.tiktok.errors import (
    CredentialRejected,
    PermanentError,
    RateLimited,
    SearchExpired,
    ServerSideError,
    TokenInvalid,
    TransientError,
    Unreachable,
)

ACCESS_TOKEN = "clt.ACCESS-TOKEN-very-secret-0123456789"
BIG_ID = 7354321098765432123  # > 2^53: a float would make it ...432192
BIG_SEARCH_ID = 7354999999999999999
QUERY = Query(and_=[Condition(field_name="region_code", operation="IN", field_values=["BE"])],
              or_=[Condition(field_name="keyword", operation="IN", field_values=["klimaat"])])
BODY = VideoQueryBody(query=QUERY, start_date="20240101", end_date="20240131", max_count=100)


@pytest.fixture
def api():
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def client():
    http = httpx.Client(base_url=BASE_URL)
    yield TikTokClient(http)
    http.close()


def ok_page(videos, **data) -> dict:
    return {"data": {"videos": videos, "cursor": 100, "has_more": True, "search_id": BIG_SEARCH_ID, **data},
            "error": {"code": "ok", "message": "", "log_id": "20240601120000ABCDEF"}}


# --- OAuth ---------------------------------------------------------------------------------------


def test_token_success_sends_form_encoded_client_credentials(api, client):
    route = api.post(TOKEN).respond(200, json={"access_token": "clt.abc", "expires_in": 3600, "token_type": "Bearer"})
    assert client.request_token(CLIENT_KEY, CLIENT_SECRET) == ("clt.abc", 3600.0)
    sent = route.calls.last.request
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(httpx.QueryParams(sent.content.decode()))
    assert form == {"client_key": CLIENT_KEY, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials"}


def test_token_without_expires_in_lives_two_hours(api, client):
    api.post(TOKEN).respond(200, json={"access_token": "clt.abc", "token_type": "Bearer"})
    assert client.request_token(CLIENT_KEY, CLIENT_SECRET) == ("clt.abc", 7200.0)


@pytest.mark.parametrize("status", [200, 401])
def test_token_refusal_invalid_client_is_credential_rejected(api, client, status):
    api.post(TOKEN).respond(status, json={"error": "invalid_client",
                                          "error_description": "Client key or secret is incorrect.",
                                          "log_id": "LOG1"})
    with pytest.raises(CredentialRejected) as caught:
        client.request_token(CLIENT_KEY, CLIENT_SECRET)
    assert caught.value.code == "invalid_client"
    assert caught.value.status == status
    assert caught.value.log_id == "LOG1"
    assert isinstance(caught.value, PermanentError)


@pytest.mark.parametrize("status", [200, 400])
def test_token_refusal_other_oauth_error_is_permanent_not_credential(api, client, status):
    api.post(TOKEN).respond(status, json={"error": "invalid_request", "error_description": "grant_type is missing"})
    with pytest.raises(PermanentError) as caught:
        client.request_token(CLIENT_KEY, CLIENT_SECRET)
    assert type(caught.value) is PermanentError
    assert caught.value.code == "invalid_request"
    assert "grant_type is missing" in str(caught.value)


@pytest.mark.parametrize("answer", [httpx.Response(500, text="oops"), httpx.Response(504, html="<html>504</html>"),
                                    httpx.ReadTimeout("timed out")], ids=["500", "504", "timeout"])
def test_token_endpoint_failure_is_transient_but_not_server_side(api, client, answer):
    # A failing OAuth endpoint says nothing about a query window: it must never lead to a split.
    route = api.post(TOKEN)
    route.mock(side_effect=answer) if isinstance(answer, Exception) else route.mock(return_value=answer)
    with pytest.raises(TransientError) as caught:
        client.request_token(CLIENT_KEY, CLIENT_SECRET)
    assert caught.value.server_side is False
    assert str(caught.value).startswith("token endpoint: ")


# --- video query -----------------------------------------------------------------------------


def test_video_page_decoded_with_exact_big_ids_and_raw_body_kept(api, client):
    raw = json.dumps(ok_page([{"id": BIG_ID, "username": "alice", "music_id": BIG_ID + 1,
                               "unknown_new_field": {"x": 1}}, {"id": BIG_ID - 5}])).encode()
    api.post(VIDEO_QUERY).respond(200, content=raw)
    page, body = client.query_videos(ACCESS_TOKEN, BODY)
    assert body == raw
    assert [v.id for v in page.videos] == [BIG_ID, BIG_ID - 5]
    assert type(page.videos[0].id) is int
    assert page.videos[0].music_id == BIG_ID + 1
    assert page.search_id == BIG_SEARCH_ID and page.cursor == 100 and page.has_more is True


def test_video_query_sends_bearer_token_fields_and_json_body(api, client):
    route = api.post(VIDEO_QUERY).respond(200, json=ok_page([]))
    client.query_videos(ACCESS_TOKEN, VideoQueryBody(query=QUERY, start_date="20240101", end_date="20240131",
                                                     max_count=100, cursor=300, search_id="S-9"))
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert sent.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert sent.url.params["fields"] == VIDEO_FIELDS
    assert json.loads(sent.content) == {
        "query": {"and": [{"field_name": "region_code", "operation": "IN", "field_values": ["BE"]}],
                  "or": [{"field_name": "keyword", "operation": "IN", "field_values": ["klimaat"]}]},
        "start_date": "20240101", "end_date": "20240131", "max_count": 100, "cursor": 300, "search_id": "S-9",
    }


def test_first_page_body_has_no_cursor_or_search_id(api, client):
    route = api.post(VIDEO_QUERY).respond(200, json=ok_page([]))
    client.query_videos(ACCESS_TOKEN, BODY)
    sent = json.loads(route.calls.last.request.content)
    assert "cursor" not in sent and "search_id" not in sent and "not" not in sent["query"]


def test_200_cut_short_is_transient_never_a_page(api, client):
    full = json.dumps(ok_page([{"id": BIG_ID}, {"id": BIG_ID - 1}])).encode()
    api.post(VIDEO_QUERY).respond(200, content=full[: len(full) // 2])
    with pytest.raises(TransientError) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert not caught.value.server_side
    assert type(caught.value) is TransientError


def test_200_with_error_envelope_and_no_data_is_transient(api, client):
    api.post(VIDEO_QUERY).respond(200, content=error_body("internal_error", "boom"))
    with pytest.raises(TransientError):
        client.query_videos(ACCESS_TOKEN, BODY)


def test_500_is_server_side_error(api, client):
    api.post(VIDEO_QUERY).respond(500, content=error_body("internal_error", "Something went wrong"))
    with pytest.raises(ServerSideError) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.server_side is True
    assert caught.value.status == 500 and caught.value.code == "internal_error"


def test_500_with_empty_body_is_server_side_error(api, client):
    api.post(VIDEO_QUERY).respond(500, content=b"")
    with pytest.raises(ServerSideError):
        client.query_videos(ACCESS_TOKEN, BODY)


def test_504_with_html_body_is_server_side_error(api, client):
    api.post(VIDEO_QUERY).respond(504, html="<html><body><h1>504 Gateway Time-out</h1></body></html>")
    with pytest.raises(ServerSideError) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.status == 504 and caught.value.server_side is True


def test_429_is_rate_limited(api, client):
    api.post(VIDEO_QUERY).respond(429, content=error_body("rate_limit_exceeded", "API rate limit exceeded"))
    with pytest.raises(RateLimited) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.status == 429 and caught.value.code == "rate_limit_exceeded"


def test_401_access_token_invalid_is_token_invalid(api, client):
    api.post(VIDEO_QUERY).respond(401, content=error_body("access_token_invalid", "The access token is invalid"))
    with pytest.raises(TokenInvalid) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.code == "access_token_invalid"


def test_401_scope_not_authorized_is_permanent(api, client):
    api.post(VIDEO_QUERY).respond(401, content=error_body("scope_not_authorized", "no research scope"))
    with pytest.raises(PermanentError) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.code == "scope_not_authorized"


@pytest.mark.parametrize("message", ["Search Id 123 is invalid or expired", "Invalid count or cursor"])
def test_transient_400s_are_search_expired(api, client, message):
    api.post(VIDEO_QUERY).respond(400, content=error_body("invalid_params", message))
    with pytest.raises(SearchExpired) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.reason == message
    assert caught.value.server_side is False


def test_other_invalid_params_is_permanent(api, client):
    api.post(VIDEO_QUERY).respond(400, content=error_body("invalid_params", "Invalid field name: foo"))
    with pytest.raises(PermanentError) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert type(caught.value) is PermanentError
    assert caught.value.reason == "Invalid field name: foo"
    assert caught.value.status == 400 and caught.value.code == "invalid_params"


def test_read_timeout_is_server_side_and_names_no_request_detail(api, client):
    api.post(VIDEO_QUERY).mock(side_effect=httpx.ReadTimeout("timed out reading /v2/research/video/query/?fields=id"))
    with pytest.raises(ServerSideError) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    text = str(caught.value)
    assert text == "time-out talking to TikTok (ReadTimeout)"
    assert caught.value.reached_tiktok and caught.value.outage_sign
    for leak in ("?", "fields", "http", "tiktok.test", "Bearer", ACCESS_TOKEN):
        assert leak not in text.replace("TikTok", "")


@pytest.mark.parametrize("error", [httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError])
def test_our_own_connect_and_pool_failures_are_not_tiktoks_5xx(api, client, error):
    # The request never left: TikTok neither counted it nor failed on the window.
    api.post(VIDEO_QUERY).mock(side_effect=error("connect to tiktok.test:443 failed, /v2/research/video/query/"))
    with pytest.raises(Unreachable) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.server_side is False
    assert caught.value.reached_tiktok is False and caught.value.outage_sign is True
    assert "tiktok.test" not in str(caught.value) and caught.value.__suppress_context__


def test_a_connection_reset_mid_request_may_have_been_counted_but_is_no_evidence_against_the_window(api, client):
    api.post(VIDEO_QUERY).mock(side_effect=httpx.RemoteProtocolError("Server disconnected without sending a response."))
    with pytest.raises(TransientError) as caught:
        client.query_videos(ACCESS_TOKEN, BODY)
    assert caught.value.reached_tiktok and caught.value.outage_sign and not caught.value.server_side


# --- user info ------------------------------------------------------------------------------------


def test_user_info_ok_returns_profile_and_raw_body(api, client):
    raw = json.dumps({"data": {"display_name": "Alice", "follower_count": 12, "is_verified": True},
                      "error": {"code": "ok", "message": "", "log_id": "L"}}).encode()
    route = api.post(USER_INFO).respond(200, content=raw)
    outcome, info, body = client.user_info(ACCESS_TOKEN, "alice")
    assert outcome == "ok" and body == raw
    assert info.display_name == "Alice" and info.follower_count == 12 and info.is_verified is True
    sent = route.calls.last.request
    assert sent.url.params["fields"] == USER_FIELDS
    assert sent.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert json.loads(sent.content) == {"username": "alice"}


@pytest.mark.parametrize("message, outcome", [
    ("The user cannot find the user with username ghost", "unknown"),
    ("User ghost is private", "private"),
    ("API cannot return this user's information", "restricted"),
    ("The user's liked videos information cannot be returned", "restricted"),
])
def test_user_info_account_outcomes_are_answers_with_raw_body(api, client, message, outcome):
    raw = error_body("invalid_params", message)
    api.post(USER_INFO).respond(400, content=raw)
    got_outcome, info, body = client.user_info(ACCESS_TOKEN, "ghost")
    assert (got_outcome, info, body) == (outcome, None, raw)


def test_user_info_other_400_is_permanent(api, client):
    api.post(USER_INFO).respond(400, content=error_body("invalid_params", "Invalid field name: bogus"))
    with pytest.raises(PermanentError):
        client.user_info(ACCESS_TOKEN, "alice")


def test_user_info_500_without_message_is_server_side(api, client):
    api.post(USER_INFO).respond(500, content=error_body("internal_error", ""))
    with pytest.raises(ServerSideError):
        client.user_info(ACCESS_TOKEN, "alice")


# --- secrets never in an exception ------------------------------------------------------------

TOKEN_FAILURES = [
    httpx.Response(200, json={"error": "invalid_client", "error_description": "bad", "log_id": "L"}),
    httpx.Response(401, json={"error": "invalid_client", "error_description": "bad"}),
    httpx.Response(400, json={"error": "invalid_request", "error_description": "missing"}),
    httpx.Response(429, json={"error": "rate_limit_exceeded"}),
    httpx.Response(500, text="boom"),
    httpx.Response(502, html="<html>bad gateway</html>"),
    httpx.Response(200, content=b'{"access_tok'),
    httpx.ReadTimeout("read timed out"),
    httpx.ConnectError("connection refused"),
]
RESEARCH_FAILURES = [
    httpx.Response(401, content=error_body("access_token_invalid", "token invalid")),
    httpx.Response(401, content=error_body("scope_not_authorized", "")),
    httpx.Response(429, content=error_body("rate_limit_exceeded", "")),
    httpx.Response(500, content=error_body("internal_error", "")),
    httpx.Response(504, html="<html>504</html>"),
    httpx.Response(400, content=error_body("invalid_params", "Search Id 1 is invalid or expired")),
    httpx.Response(400, content=error_body("invalid_params", "bad query")),
    httpx.Response(403, html="<html>forbidden</html>"),
    httpx.Response(200, content=b'{"data": {"videos": [{"id": 1'),
    httpx.ReadTimeout("read timed out"),
    httpx.ConnectError("connection refused"),
]


def _everything_said(error: BaseException) -> str:
    """Every text an exception can end up as: str, repr, args, attributes, traceback."""
    parts = [str(error), repr(error), repr(error.args), repr(vars(error))]
    parts += traceback.format_exception(error)
    cause = error.__cause__ or error.__context__
    if cause is not None:
        parts += [str(cause), repr(cause)]
    return "\n".join(parts)


def _said_on_failure(api, path: str, answer, call) -> str:
    """Everything the exception says when `call()` meets `answer` (a response or an error) at `path`."""
    route = api.post(path)
    route.mock(side_effect=answer) if isinstance(answer, Exception) else route.mock(return_value=answer)
    with pytest.raises(Exception) as caught:
        call()
    return _everything_said(caught.value)


@pytest.mark.parametrize("answer", TOKEN_FAILURES, ids=lambda a: type(a).__name__ + str(getattr(a, "status_code", "")))
def test_token_failures_never_mention_the_secret(api, client, answer):
    said = _said_on_failure(api, TOKEN, answer, lambda: client.request_token(CLIENT_KEY, CLIENT_SECRET))
    assert CLIENT_SECRET not in said


@pytest.mark.parametrize("answer", RESEARCH_FAILURES,
                         ids=lambda a: type(a).__name__ + str(getattr(a, "status_code", "")))
def test_research_failures_never_mention_the_token(api, client, answer):
    said = _said_on_failure(api, VIDEO_QUERY, answer, lambda: client.query_videos(ACCESS_TOKEN, BODY))
    assert ACCESS_TOKEN not in said and "Bearer" not in said
