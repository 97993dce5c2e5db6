"""The credentials file (TOML): one table per TikTok Research API client key; and what
`tiktok-harvest credentials list --json` prints about them (never a secret)."""

import datetime as dt
from typing import Annotated, Literal

import msgspec

# TikTok grants 1,000 requests and 100,000 records a day unless it agrees to more. The bounds
# only keep a slip (0, a negative number, a run of digits) away from the quota script.
DailyLimit = Annotated[int, msgspec.Meta(ge=1, le=10**9)]


class Credential(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    project: str
    client_key: str
    client_secret: str
    access_start: dt.date
    access_end: dt.date
    daily_requests: DailyLimit = 1000
    daily_records: DailyLimit = 100_000
    # The followers/following lists have a budget of their own.
    daily_follow_requests: DailyLimit = 20_000
    daily_follow_records: DailyLimit = 2_000_000

    def follow_budget(self) -> "Credential":
        """The same credential, with the follower lists' daily limits as its limits."""
        return msgspec.structs.replace(self, daily_requests=self.daily_follow_requests,
                                       daily_records=self.daily_follow_records)

    def __repr__(self) -> str:
        # A Credential can end up in a log line or a traceback: never show the secret.
        return (
            f"Credential(project={self.project!r}, client_key=<hidden>, client_secret=<hidden>, "
            f"access_start={self.access_start}, access_end={self.access_end})"
        )

    __str__ = __repr__

    def valid_on(self, day: dt.date) -> bool:
        return self.access_start <= day <= self.access_end


# valid: usable today; expired / not_yet_valid: today is outside its access period;
# malformed: left out of the file (see `problem`), nothing runs on it.
Standing = Literal["valid", "expired", "not_yet_valid", "malformed"]


class BudgetToday(msgspec.Struct):
    """One of a credential's daily budgets as its bucket counts it today (UTC day)."""

    budget: str  # research or follows (the follower lists)
    requests_used: int
    records_used: int
    requests_limit: int | None  # None: the credential is malformed, its limits unknown
    records_limit: int | None
    requests_left: int | None
    records_left: int | None
    spent_for_s: float  # >0: TikTok kept answering 429; nothing is asked until then


class HarvestOnCredential(msgspec.Struct):
    id: str
    state: str | None  # None: not registered (any more), though it asked for quota lately
    asking: bool  # asked for this credential's quota in the last few minutes


class CredentialEntry(msgspec.Struct):
    """One credential of the file, as an operator reads it."""

    name: str
    standing: Standing
    project: str | None  # None when malformed
    client_key: str | None  # masked: its first characters and "…"; the secret never appears
    access_start: dt.date | None
    access_end: dt.date | None
    problem_field: str | None  # malformed: the field at fault ...
    problem: str | None  # ... and what is wrong with it (never its value)
    resets_in_s: float  # until the buckets' 00:00 UTC reset
    budgets: list[BudgetToday]
    harvests: list[HarvestOnCredential]  # registered on it, or asking for its quota


class CredentialRegistry(msgspec.Struct):
    file: str
    today: dt.date  # UTC: what `standing` is judged against
    credentials: list[CredentialEntry]
