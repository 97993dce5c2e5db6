"""The researcher's harvest spec (YAML or JSON) and the plan the producer registers."""

import datetime as dt
from typing import Annotated, Literal

import msgspec

from schemas.query import Query

Collectable = Literal["videos", "users", "comments", "followers", "following", "liked_videos", "pinned_videos",
                      "reposted_videos", "playlists"]

# How much one spec may ask for. TikTok documents no limits on a query's size; these sit
# well above what a research question needs and well below what could make TikTok refuse
# or time out a query, and they bound the work one spec can cause here.
MAX_TERMS = 100  # accounts; keywords (words and #hashtags together); regions
MAX_TERM_CHARS = 100  # one keyword or hashtag
MAX_NAME_CHARS = 200
MAX_PROJECT_CHARS = 100
# TikTok serves about the first 1,000 comments of a video; a limit above that changes nothing.
MAX_COMMENTS_PER_VIDEO = 1000
MAX_FOLLOWS_PER_ACCOUNT = 10_000
# TikTok's terms ask researchers to refresh their data at least every 15 days and delete what
# is gone: an ongoing harvest refreshes itself this often unless its spec says sooner.
REFRESH_EVERY_DAYS = 15

Term = Annotated[str, msgspec.Meta(max_length=MAX_TERM_CHARS)]
Terms = Annotated[list[Term], msgspec.Meta(max_length=MAX_TERMS)]


class HarvestSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a researcher asks for, as written in the spec file."""

    id: str
    project: Annotated[str, msgspec.Meta(max_length=MAX_PROJECT_CHARS)]
    period: str  # yyyymmdd-yyyymmdd, inclusive; or yyyymmdd-ongoing: every day from then on
    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)] = ""
    accounts: Terms = msgspec.field(default_factory=list)
    keywords: Terms = msgspec.field(default_factory=list)
    regions: Terms = msgspec.field(default_factory=list)
    query: Query | None = None
    collect: Annotated[list[Collectable], msgspec.Meta(max_length=9)] = msgspec.field(
        default_factory=lambda: ["videos", "users"]
    )
    # With `comments`: stop a video's comments after this many (TikTok's own cap is about
    # 1,000), and ask even for videos whose comment count (up to ten days old) says none.
    max_comments_per_video: Annotated[int, msgspec.Meta(ge=1, le=MAX_COMMENTS_PER_VIDEO)] | None = None
    comments_of_every_video: bool = False
    # With `followers` / `following`: the lists of the accounts named in `accounts` (and of
    # every author with `follows_of_every_author`), each stopped after this many entries
    # (TikTok's lists stop around 5,000).
    max_follows_per_account: Annotated[int, msgspec.Meta(ge=1, le=MAX_FOLLOWS_PER_ACCOUNT)] | None = None
    follows_of_every_author: bool = False
    # An ongoing period: days between the compliance refreshes the fleet starts by itself.
    refresh_every_days: Annotated[int, msgspec.Meta(ge=1, le=REFRESH_EVERY_DAYS)] | None = None


class HarvestPlan(msgspec.Struct, frozen=True):
    """A validated spec, resolved against the credentials: what workers need to know."""

    id: str
    name: str
    project: str
    credential: str  # the credential's name; never its secret
    query: Query
    period_start: str  # yyyymmdd
    period_end: str  # yyyymmdd, or "ongoing"
    storage_date: str  # yyyymmdd: fixed per harvest so a page stored twice lands on one path
    submitted_at: float
    spec_digest: str  # tells a resubmission of the same spec from a different one
    collect: list[Collectable]
    windows: list[str]  # window ids, newest first
    max_comments_per_video: int | None = None  # None: as many as TikTok serves
    comments_of_every_video: bool = False  # also videos whose comment count says none
    accounts: list[str] = msgspec.field(default_factory=list)  # the spec's accounts, normalised
    max_follows_per_account: int | None = None
    follows_of_every_author: bool = False
    # An ongoing harvest: `windows` cover the days TikTok had archived at submission; the fleet
    # adds each day from this one (yyyymmdd) on once TikTok has archived it (workers/new_days.py).
    new_days_from: str | None = None
    refresh_every_days: int | None = None  # an ongoing harvest's compliance refreshes (workers/new_days.py)

    @property
    def ongoing(self) -> bool:
        return self.new_days_from is not None

    def storage_date_minus(self, days: int) -> str:
        """The submission day less `days`, as yyyymmdd (compares with the period's days)."""
        day = dt.datetime.strptime(self.storage_date, "%Y%m%d").date() - dt.timedelta(days=days)
        return day.strftime("%Y%m%d")
