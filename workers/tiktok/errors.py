"""What can go wrong talking to TikTok, sorted by what the fleet does about it.

Messages are built from status codes, TikTok's error codes/messages and log ids only: never
from headers or request bodies, so no token or secret can reach a log line, a dead letter
or a traceback.
"""


class ApiError(Exception):
    """Base: carries a reason that is safe to log and store."""

    def __init__(self, reason: str, *, status: int | None = None, code: str = "", log_id: str = "",
                 body: bytes = b""):
        self.reason = reason
        self.status = status
        self.code = code
        self.log_id = log_id
        #: The answer as received, for failures that are outcomes to store (a private user).
        self.body = body
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = [self.reason]
        if self.status is not None:
            parts.append(f"http={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.log_id:
            parts.append(f"log_id={self.log_id}")
        return " ".join(parts)


class TransientError(ApiError):
    """Retry later: 5xx, time-outs, connection errors, bodies that do not decode."""

    #: TikTok failed on the query itself (500, 504, a read time-out): a window whose calls
    #: keep failing like this while other calls succeed is split in two.
    server_side: bool = False
    #: Says something about TikTok's (or the network's) health as a whole, not just about
    #: this request: calls failing like this across units mean an outage.
    outage_sign: bool = False
    #: The request may have reached TikTok, so it counts against the day's quota.
    reached_tiktok: bool = True
    #: Set by the caller once the bucket has judged it (workers/calls.py): the failure looks
    #: tied to this unit, as TikTok answered other calls meanwhile or no other unit fails.
    isolated: bool = True


class ServerSideError(TransientError):
    server_side = True
    outage_sign = True


class Unreachable(TransientError):
    """Our side never got the request to TikTok: the connection was refused or reset before
    it was sent, or no connection could be had in time (connect or pool time-out). Not
    TikTok's 5xx, and not a request TikTok counted."""

    outage_sign = True
    reached_tiktok = False


class ConnectionLost(TransientError):
    """The connection broke while the request was out: TikTok may have counted it."""

    outage_sign = True


class TokenUnavailable(TransientError):
    """The OAuth endpoint failed or answered nonsense: no research request was sent."""

    outage_sign = True
    reached_tiktok = False


class SearchExpired(TransientError):
    """400 "Search Id … is invalid or expired" / "Invalid count or cursor": retry, then
    restart the window's search."""


class RateLimited(ApiError):
    """429: short-term throttling or the daily quota; persistent ones mark the credential spent."""


class TokenInvalid(ApiError):
    """401 access_token_invalid: fetch a new token and resend once."""


class PermanentError(ApiError):
    """Will not get better by retrying (bad query, scope not authorised, revoked key)."""


class CredentialRejected(PermanentError):
    """The OAuth endpoint refused the client key/secret."""


class QuotaWait(Exception):
    """Raised inside a handler when the bucket cannot serve: the message is parked."""

    def __init__(self, wait_s: float, why: str = "day_spent", *, credential: str | None = None):
        self.wait_s = wait_s
        # throttled, day_spent, fair_share, api_down or no_valid_key: a label for metrics and logs
        self.why = why
        self.credential = credential  # the key whose bucket decided the wait
        super().__init__(f"waiting for quota ({why}) for {wait_s:.0f}s")
