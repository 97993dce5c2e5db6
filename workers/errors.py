"""What can go wrong talking to TikTok, sorted by what the fleet does about it.

Messages are built from status codes, TikTok's error codes/messages and log ids only: never
from headers or request bodies, so no token or secret can reach a log line, a dead letter
or a traceback.
"""


class ApiError(Exception):
    """Base: carries a reason that is safe to log and store."""

    def __init__(self, reason: str, *, status: int | None = None, code: str = "", log_id: str = ""):
        self.reason = reason
        self.status = status
        self.code = code
        self.log_id = log_id
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

    #: True when TikTok's side failed on the query itself (500/504/time-out): a window that
    #: keeps failing like this is split in two.
    server_side: bool = False


class ServerSideError(TransientError):
    server_side = True


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

    def __init__(self, wait_s: float, why: str = "day_spent"):
        self.wait_s = wait_s
        self.why = why  # throttled, day_spent or fair_share: a label for metrics and logs
        super().__init__(f"waiting for quota ({why}) for {wait_s:.0f}s")
