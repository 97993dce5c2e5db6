"""The TikTok Research API over HTTP: requests, decoding and error classification only.

It knows nothing of Redis, files or queues (see `workers.pages` for the page's journey), so
it can be used and tested on its own.
"""

import re

import httpx
import msgspec

from schemas.api import (
    COMMENT_FIELDS,
    PLAYLIST_FIELDS,
    USER_FIELDS,
    VIDEO_FIELDS,
    AccountVideosBody,
    AccountVideosPage,
    AccountVideosResponse,
    CommentListBody,
    CommentListResponse,
    CommentPage,
    ErrorResponse,
    FollowBody,
    FollowPage,
    FollowResponse,
    Playlist,
    PlaylistBody,
    PlaylistResponse,
    TokenResponse,
    UserInfo,
    UserInfoBody,
    UserInfoResponse,
    VideoPage,
    VideoQueryBody,
    VideoQueryResponse,
)
from workers.tiktok.errors import (
    ApiError,
    ConnectionLost,
    CredentialRejected,
    PermanentError,
    RateLimited,
    SearchExpired,
    ServerSideError,
    TokenInvalid,
    TokenUnavailable,
    TransientError,
    Unreachable,
)

# Connect fast, but let TikTok take its time on big searches (504s arrive after minutes).
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)

# 400 messages that describe the account, not a fault: final outcomes for that user.
USER_OUTCOMES = (
    ("cannot find the user", "unknown"),
    ("is private", "private"),
    ("cannot return this user", "restricted"),
    ("information cannot be returned", "restricted"),
)
TRANSIENT_400 = ("search id", "invalid count or cursor")
# RFC 6750's b64token: what may follow "Bearer " in a header. Anything else (a stray CR/LF)
# would make the HTTP library raise an error quoting the header, token and all.
BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def make_http_client(base_url: str, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        headers={"User-Agent": "icandid-tiktok-harvest/0.1"},
    )


class TikTokClient:
    def __init__(self, http: httpx.Client):
        self._http = http

    # --- OAuth ---------------------------------------------------------------------------
    def request_token(self, client_key: str, client_secret: str) -> tuple[str, float]:
        """Returns (access token, lifetime in seconds)."""
        try:
            token, lifetime = self._request_token(client_key, client_secret)
        except TransientError as error:
            # A failing OAuth endpoint says nothing about the query: retry, never split.
            raise TokenUnavailable(f"token endpoint: {error.reason}", status=error.status) from None
        if not BEARER_TOKEN.fullmatch(token):
            raise TokenUnavailable("token endpoint: the access token holds characters a header cannot carry")
        return token, lifetime

    def _request_token(self, client_key: str, client_secret: str) -> tuple[str, float]:
        response = self._send(
            "/v2/oauth/token/",
            data={
                "client_key": client_key,
                "client_secret": client_secret,
                "grant_type": "client_credentials",
            },
        )
        if response.status_code >= 500:
            raise ServerSideError("token endpoint failed", status=response.status_code)
        try:
            body = msgspec.json.decode(response.content, type=TokenResponse, strict=False)
        except msgspec.DecodeError:
            raise TransientError("token response did not decode", status=response.status_code) from None
        # TikTok may answer a refusal with 200 or with 4xx: the body decides.
        if body.error or not body.access_token:
            code = body.error or "no_access_token"
            if code in ("invalid_client", "unauthorized_client", "access_denied"):
                raise CredentialRejected(
                    "client key or secret refused", status=response.status_code, code=code,
                    log_id=body.log_id or "",
                )
            if response.status_code == 429:
                raise RateLimited("token endpoint throttled", status=429, code=code)
            raise PermanentError(
                f"token request refused: {body.error_description or code}",
                status=response.status_code, code=code, log_id=body.log_id or "",
            )
        return body.access_token, float(body.expires_in or 7200)

    # --- research endpoints ----------------------------------------------------------------
    def query_videos(self, token: str, body: VideoQueryBody) -> tuple[VideoPage, bytes]:
        """One page of a video search; returns the decoded page and the body as received."""
        response = self._research("/v2/research/video/query/", VIDEO_FIELDS, token, body)
        return decode_video_page(response.content), response.content

    def list_comments(self, token: str, body: CommentListBody) -> tuple[CommentPage, bytes]:
        """One page of a video's comments (replies included); the decoded page and the body."""
        response = self._research("/v2/research/video/comment/list/", COMMENT_FIELDS, token, body)
        return decode_comment_page(response.content), response.content

    def user_info(self, token: str, username: str) -> tuple[str, UserInfo | None, bytes]:
        """Returns (outcome, profile or None, body as received); outcome is ok, unknown,
        private or restricted — the last three are answers, not errors."""
        try:
            response = self._research(
                "/v2/research/user/info/", USER_FIELDS, token, UserInfoBody(username=username)
            )
        except PermanentError as error:
            if user_outcome(error.status, error.reason) is None:
                raise
            assert error.status is not None  # user_outcome answers only for a 400
            return *decode_user_body(error.body, error.status), error.body
        return *decode_user_body(response.content, response.status_code), response.content

    def user_follows(self, token: str, direction: str, body: FollowBody) -> tuple[str, FollowPage | None, bytes]:
        """One page of an account's followers (`direction` "followers") or followed accounts
        ("following"): (outcome, page or None, body as received), outcomes as for user_info."""
        try:
            response = self._research(f"/v2/research/user/{direction}/", "", token, body)
        except PermanentError as error:
            if user_outcome(error.status, error.reason) is None:
                raise
            assert error.status is not None  # user_outcome answers only for a 400
            return *decode_follow_body(error.body, error.status), error.body
        return *decode_follow_body(response.content, response.status_code), response.content

    def account_videos(self, token: str, which: str, body: AccountVideosBody
                       ) -> tuple[str, AccountVideosPage | None, bytes]:
        """One page of an account's `which` ("liked", "pinned", "reposted") videos:
        (outcome, page or None, body as received), outcomes as for user_info (hidden likes
        are `restricted`)."""
        try:
            response = self._research(f"/v2/research/user/{which}_videos/", VIDEO_FIELDS, token, body)
        except PermanentError as error:
            if user_outcome(error.status, error.reason) is None:
                raise
            assert error.status is not None
            return *decode_account_videos_body(error.body, error.status), error.body
        return *decode_account_videos_body(response.content, response.status_code), response.content

    def playlist(self, token: str, body: PlaylistBody) -> tuple[Playlist, bytes]:
        """One page of a playlist: its fields and a page of its video ids."""
        response = self._research("/v2/research/playlist/info/", PLAYLIST_FIELDS, token, body)
        return decode_playlist(response.content), response.content

    # --- plumbing ------------------------------------------------------------------------
    def _research(self, path: str, fields: str, token: str, body) -> httpx.Response:
        """`fields` '' for the endpoints that take none (the follower lists)."""
        response = self._send(
            path,
            params={"fields": fields} if fields else None,
            content=msgspec.json.encode(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        if response.status_code == 200:
            return response
        raise classify_failure(response)

    def _send(self, path: str, **kwargs) -> httpx.Response:
        """POST, with transport failures sorted by what they say. Raised `from None` and named
        by the exception's class only: an HTTP library's message and its chained context can
        quote the request, headers included."""
        try:
            return self._http.post(path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Never sent: TikTok did not see it, did not count it, and is not slow on it.
            raise Unreachable(f"TikTok unreachable ({type(error).__name__})") from None
        except httpx.TimeoutException as error:
            # Sent, and TikTok took too long: what big windows do (and outages).
            raise ServerSideError(f"time-out talking to TikTok ({type(error).__name__})") from None
        except httpx.LocalProtocolError as error:
            raise TransientError(f"request could not be sent ({type(error).__name__})") from None
        except httpx.HTTPError as error:
            raise ConnectionLost(f"connection to TikTok failed ({type(error).__name__})") from None


def decode_video_page(content: bytes) -> VideoPage:
    return _page_data(content, VideoQueryResponse, "video page")


def decode_playlist(content: bytes) -> Playlist:
    return _page_data(content, PlaylistResponse, "playlist")


def decode_comment_page(content: bytes) -> CommentPage:
    return _page_data(content, CommentListResponse, "comment page")


def _page_data(content: bytes, response_type, what: str):
    """The `data` of a paged answer. A 200 cut short, garbage, or an error envelope without
    data: the page must be fetched again, never dropped."""
    try:
        decoded = msgspec.json.decode(content, type=response_type, strict=False)
    except msgspec.DecodeError as error:
        raise TransientError(f"{what} did not decode ({error})") from None
    if decoded.error.code not in ("ok", "") or decoded.data is None:
        raise TransientError(
            f"{what} without data: {decoded.error.message or 'empty'}",
            code=decoded.error.code, log_id=decoded.error.log_id,
        )
    return decoded.data


def decode_user_body(content: bytes, status: int = 200) -> tuple[str, UserInfo | None]:
    """(outcome, profile) from a stored or fresh user-info body."""
    return _account_answer(content, status, UserInfoResponse, "user info")


def decode_follow_body(content: bytes, status: int = 200) -> tuple[str, FollowPage | None]:
    """(outcome, page) from a stored or fresh follower-list body."""
    return _account_answer(content, status, FollowResponse, "follower list")


def decode_account_videos_body(content: bytes, status: int = 200) -> tuple[str, AccountVideosPage | None]:
    """(outcome, page) from a stored or fresh liked/pinned/reposted videos body."""
    return _account_answer(content, status, AccountVideosResponse, "account videos")


def _account_answer(content: bytes, status: int, response_type, what: str):
    """An answer about an account: its data, or one of the outcomes that are answers too
    (unknown, private, restricted)."""
    try:
        decoded = msgspec.json.decode(content, type=response_type, strict=False)
    except msgspec.DecodeError:
        raise TransientError(f"{what} response did not decode", status=status) from None
    if decoded.error.code in ("ok", "") and decoded.data is not None:
        return "ok", decoded.data
    outcome = user_outcome(400, decoded.error.message)
    if outcome is None:
        raise TransientError(f"{what} response without data", status=status, code=decoded.error.code)
    return outcome, None


def classify_failure(response: httpx.Response) -> ApiError:
    status = response.status_code
    try:
        error = msgspec.json.decode(response.content, type=ErrorResponse, strict=False).error
    except msgspec.DecodeError:
        error = None  # 504s come with an HTML body; some 500s with nothing usable
    code = error.code if error else ""
    message = (error.message if error else "")[:300]
    log_id = error.log_id if error else ""
    if status == 401 and code in ("access_token_invalid", ""):
        return TokenInvalid("access token rejected", status=status, code=code, log_id=log_id)
    if status == 429:
        return RateLimited("rate limit exceeded", status=status, code=code, log_id=log_id)
    if status >= 500:
        return ServerSideError(f"TikTok server error {message}".strip(), status=status, code=code, log_id=log_id)
    if status == 400 and any(marker in message.lower() for marker in TRANSIENT_400):
        return SearchExpired(message, status=status, code=code, log_id=log_id)
    if error is None:
        return TransientError("error response did not decode", status=status)
    # The body is kept for user outcomes, which are stored as received.
    return PermanentError(message or "request refused", status=status, code=code, log_id=log_id,
                          body=response.content)


def user_outcome(status: int | None, message: str) -> str | None:
    if status != 400:
        return None
    message = message.lower()
    for marker, outcome in USER_OUTCOMES:
        if marker in message:
            return outcome
    return None
