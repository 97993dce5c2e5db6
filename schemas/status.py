"""What `tiktok-harvest status --json` prints for a harvest."""

from typing import Literal

import msgspec

# caught_up: an ongoing harvest has every day TikTok has archived so far and waits for the next.
HarvestState = Literal[
    "queued", "running", "waiting_for_quota", "access_expired", "done", "caught_up", "failed", "paused", "cancelled"
]


class QuotaStatus(msgspec.Struct):
    """Today's bucket of the harvest's credential (UTC day)."""

    credential: str
    requests_used: int
    records_used: int
    requests_left: int | None  # None where the limits (credentials file) are not at hand
    records_left: int | None
    resets_in_s: float
    spent_for_s: float  # >0: TikTok kept answering 429; nothing is asked until then
    harvest_requests: int = 0  # this harvest's part of requests_used
    harvests_sharing: int = 0  # harvests asking for this credential's quota right now
    tiktok_down_for_s: float = 0.0  # >0: TikTok looks down; calls wait for a probe to get an answer
    next_probe_in_s: float = 0.0


class EndpointStatus(msgspec.Struct):
    """One research endpoint's part of a harvest."""

    requests: int  # research requests it spent
    records: int  # records stored (each once per harvest)
    pages: int  # units done: answers stored and processed
    chains_done: int  # chains ended: windows (video search), accounts, videos' comments
    chains_total: int  # chains known so far (more may come while pages are harvested)
    # Answers other than ok, by outcome (private, hidden, unknown, ...): one per account,
    # playlist or profile TikTok would not give. Final outcomes, recorded, not errors.
    outcomes: dict[str, int] = msgspec.field(default_factory=dict)


# moving: every batch is in, the records of the videos gone are being moved.
RefreshState = Literal["running", "moving", "done"]


class RefreshStatus(msgspec.Struct):
    """The harvest's latest compliance refresh (`tiktok-harvest refresh`)."""

    id: str
    state: RefreshState
    started_at: float
    videos: int  # stored videos asked about
    unchecked: int  # stored videos that cannot be asked about (no creation date, or an id not in digits)
    batches: int
    batches_done: int
    pages: int  # answers stored (one per batch, unless TikTok pages an answer)
    requests: int  # research requests this refresh spent
    still_served: int  # videos TikTok still returned, so far
    gone: int | None = None  # videos TikTok no longer serves (known once every batch is in)
    videos_removed: int = 0  # records moved into the removal log
    comments_removed: int = 0
    acts_removed: int = 0  # likes, pins and reposts of the gone videos
    finished_at: float | None = None


class HarvestStatus(msgspec.Struct):
    id: str
    state: HarvestState
    name: str
    project: str
    credential: str
    period: str
    windows_total: int
    windows_done: int
    pages: int
    records: int  # videos stored, each once
    users_requested: int
    users_done: int
    requests: int  # research API requests spent
    quota_waits: int
    errors: int  # failed attempts (retried or dead-lettered)
    dead_letters: int
    submitted_at: float
    finished_at: float | None = None
    # When the harvest's state leaves Redis (files in storage stay): for a done harvest, when its
    # keys expire; for a failed one, the earliest time it is forgotten unless replayed or purged
    # first; None while it runs.
    forget_at: float | None = None
    storage: dict[str, str] = msgspec.field(default_factory=dict)
    # Per research endpoint the harvest collects from (video_query, user_info, comment_list,
    # user_followers, ..., playlist_info): workers/metrics.py names them.
    endpoints: dict[str, EndpointStatus] = msgspec.field(default_factory=dict)
    comments: int = 0  # comments stored
    comments_cut: int = 0  # videos whose comments stopped at TikTok's cap or the spec's limit
    messages_held: int = 0  # paused: messages held until `resume` sends them again
    # Requests spent on each of the project's keys (TikTok credentials) it used, by name.
    requests_by_key: dict[str, int] = msgspec.field(default_factory=dict)
    refresh: RefreshStatus | None = None  # the latest compliance refresh, if any
    quota: QuotaStatus | None = None
    # Seconds until done, roughly, quota waits included (`status` only; None: nothing to go on).
    eta_s: float | None = None
    # An ongoing harvest: the last day it has asked for (yyyymmdd), and when the next one is
    # archived and asked for (Unix time, on the fleet's clock).
    through: str | None = None
    next_day_at: float | None = None
