"""The TikTok Research API over HTTP: requests, decoding and error classification only.

It knows nothing of Redis, files or queues (see `workers.pages` for the page's journey), so
it can be used and tested on its own.
"""

import msgspec
import httpx

from schemas.api import (
    USER_FIELDS,
    VIDEO_FIELDS,
    ErrorResponse,
    TokenResponse,
    UserInfo,
    UserInfoBody,
    UserInfoResponse,
    VideoPage,
    VideoQueryBody,
    VideoQueryResponse,
)
from workers.errors import (
    ApiError,
    CredentialRejected,
    PermanentError,
    RateLimited,
    SearchExpired,
    ServerSideError,
    TokenInvalid,
    TransientError,
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
            return self._request_token(client_key, client_secret)
        except ServerSideError as error:
            # A failing OAuth endpoint says nothing about the query: retry, never split.
            raise TransientError(f"token endpoint: {error.reason}", status=error.status) from None

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
            raise TransientError("token response did not decode", status=response.status_code)
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
            body = error.body  # type: ignore[attr-defined]
            return *decode_user_body(body, error.status), body
        return *decode_user_body(response.content, response.status_code), response.content

    # --- plumbing ------------------------------------------------------------------------
    def _research(self, path: str, fields: str, token: str, body) -> httpx.Response:
        response = self._send(
            path,
            params={"fields": fields},
            content=msgspec.json.encode(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        if response.status_code == 200:
            return response
        raise classify_failure(response)

    def _send(self, path: str, **kwargs) -> httpx.Response:
        try:
            return self._http.post(path, **kwargs)
        except httpx.TimeoutException as error:
            # Only the exception's class: its text could one day include request details.
            raise ServerSideError(f"time-out talking to TikTok ({type(error).__name__})")
        except httpx.HTTPError as error:
            raise TransientError(f"connection to TikTok failed ({type(error).__name__})")


def decode_video_page(content: bytes) -> VideoPage:
    try:
        decoded = msgspec.json.decode(content, type=VideoQueryResponse, strict=False)
    except msgspec.DecodeError as error:
        # A 200 cut short, or garbage: the page must be fetched again, never dropped.
        raise TransientError(f"video page did not decode ({error})")
    if decoded.error.code not in ("ok", "") or decoded.data is None:
        raise TransientError(
            f"video page without data: {decoded.error.message or 'empty'}",
            code=decoded.error.code, log_id=decoded.error.log_id,
        )
    return decoded.data


def decode_user_body(content: bytes, status: int = 200) -> tuple[str, UserInfo | None]:
    """(outcome, profile) from a stored or fresh user-info body."""
    try:
        decoded = msgspec.json.decode(content, type=UserInfoResponse, strict=False)
    except msgspec.DecodeError:
        raise TransientError("user info response did not decode", status=status)
    if decoded.error.code in ("ok", "") and decoded.data is not None:
        return "ok", decoded.data
    outcome = user_outcome(400, decoded.error.message)
    if outcome is None:
        raise TransientError("user info response without data", status=status, code=decoded.error.code)
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
    failure = PermanentError(message or "request refused", status=status, code=code, log_id=log_id)
    failure.body = response.content  # kept for user outcomes, which are stored as received
    return failure


def user_outcome(status: int | None, message: str) -> str | None:
    if status != 400:
        return None
    message = message.lower()
    for marker, outcome in USER_OUTCOMES:
        if marker in message:
            return outcome
    return None
