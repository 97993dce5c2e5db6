"""The researcher's harvest spec (YAML or JSON) and the plan the producer registers."""

import datetime as dt
from typing import Literal

import msgspec

from schemas.query import Query

Collectable = Literal["videos", "users"]


class HarvestSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a researcher asks for, as written in the spec file."""

    id: str
    project: str
    period: str  # yyyymmdd-yyyymmdd, inclusive
    name: str = ""
    accounts: list[str] = msgspec.field(default_factory=list)
    keywords: list[str] = msgspec.field(default_factory=list)
    regions: list[str] = msgspec.field(default_factory=list)
    query: Query | None = None
    collect: list[Collectable] = msgspec.field(default_factory=lambda: ["videos", "users"])


class HarvestPlan(msgspec.Struct, frozen=True):
    """A validated spec, resolved against the credentials: what workers need to know."""

    id: str
    name: str
    project: str
    credential: str  # the credential's name; never its secret
    query: Query
    period_start: str  # yyyymmdd
    period_end: str  # yyyymmdd
    storage_date: str  # yyyymmdd: fixed per harvest so a page stored twice lands on one path
    submitted_at: float
    spec_digest: str  # tells a resubmission of the same spec from a different one
    collect: list[Collectable]
    windows: list[str]  # window ids, newest first

    def storage_date_minus(self, days: int) -> str:
        """The submission day less `days`, as yyyymmdd (compares with the period's days)."""
        day = dt.datetime.strptime(self.storage_date, "%Y%m%d").date() - dt.timedelta(days=days)
        return day.strftime("%Y%m%d")
