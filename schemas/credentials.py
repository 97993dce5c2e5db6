"""The credentials file (TOML): one table per TikTok Research API client key."""

import datetime as dt
from typing import Annotated

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
