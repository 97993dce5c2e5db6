"""The credentials file (TOML): one table per TikTok Research API client key."""

import datetime as dt

import msgspec


class Credential(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    project: str
    client_key: str
    client_secret: str
    access_start: dt.date
    access_end: dt.date
    daily_requests: int = 1000
    daily_records: int = 100_000

    def __repr__(self) -> str:
        # A Credential can end up in a log line or a traceback: never show the secret.
        return (
            f"Credential(project={self.project!r}, client_key=<hidden>, client_secret=<hidden>, "
            f"access_start={self.access_start}, access_end={self.access_end})"
        )

    __str__ = __repr__

    def valid_on(self, day: dt.date) -> bool:
        return self.access_start <= day <= self.access_end


class CredentialsFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    credentials: dict[str, Credential] = msgspec.field(default_factory=dict)
