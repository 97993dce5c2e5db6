"""`tiktok-harvest plan`: what a harvest will take, before it spends anything."""

import msgspec


class WindowProbe(msgspec.Struct, frozen=True):
    """What the first page of a window told (with --probe)."""

    window: str
    videos_on_first_page: int
    records: int  # the window's videos: exact when `exact`, else an estimate (at least the first page)
    exact: bool  # the first page was the whole window
    authors_on_first_page: int
    comments_on_first_page: int  # the first page's videos' comment counts, each capped at TikTok's ~1,000
    comment_requests_on_first_page: int  # their comment pages: a request per 100 of a video's comments


class EndpointEstimate(msgspec.Struct, frozen=True):
    endpoint: str
    budget: str  # research or follows
    requests_at_least: int  # no harvest of the spec can take fewer
    requests_estimate: int | None = None  # with --probe; None: not estimated
    records_estimate: int | None = None


class HarvestEstimate(msgspec.Struct, frozen=True):
    id: str
    project: str
    windows: list[str]
    keys: list[str]  # the project's keys valid today: the harvest spreads over them
    daily_requests: int  # research requests a day, all those keys together
    requests_left_today: int  # of them, left today
    harvests_sharing: int  # other harvests asking those keys lately: the day is shared with them
    endpoints: list[EndpointEstimate]
    requests_at_least: int  # research budget, all endpoints
    days_at_least: int  # calendar days (UTC) the research requests need at the least, sharing included
    probe_requests: int = 0  # what --probe spent (one request per window)
    requests_estimate: int | None = None
    days_estimate: int | None = None
    probes: list[WindowProbe] = msgspec.field(default_factory=list)
    # An ongoing harvest: the figures above are for its archived past; from this day (yyyymmdd)
    # on, each day costs at least one more request (one per 100 videos), asked once archived.
    new_days_from: str | None = None
