"""What a harvest will take (requests per endpoint, calendar days), from its plan alone or
from the first page of each window (`tiktok-harvest plan --probe`). Pure functions: the
command does the reading and the calls.

Without a probe only lower bounds are certain: a window costs at least one request, an
account's list at least one. The probe asks each window's first page (100 videos): a window
whose first page is its last is known exactly; otherwise its size is extrapolated from the
time its first page spans, when TikTok returned it in time order, and is only "at least a
page" when it did not. Authors and comments scale with the videos, from the first pages'
ratios; TikTok serves about the first 1,000 comments of a video.
"""

import datetime as dt
import math
from collections.abc import Sequence

from core import windows
from core.chains import FOLLOW_ENDPOINTS, VIDEO_LIST_ENDPOINTS
from schemas.api import VideoPage
from schemas.estimate import EndpointEstimate, HarvestEstimate, WindowProbe
from schemas.spec import HarvestPlan

PAGE_SIZE = 100
COMMENT_CAP = 1000


def probe_window(window: str, page: VideoPage) -> WindowProbe:
    videos = page.videos
    authors = len({v.username for v in videos if v.username})
    counts = [min(v.comment_count or 0, COMMENT_CAP) for v in videos]
    comments = (sum(counts), sum(math.ceil(c / PAGE_SIZE) for c in counts))
    if not page.has_more:
        return WindowProbe(window, len(videos), len(videos), True, authors, *comments)
    return WindowProbe(window, len(videos), max(len(videos), _extrapolated(window, page)), False, authors,
                       *comments)


def _extrapolated(window: str, page: VideoPage) -> int:
    """The window's size, from the share of it the first page spans (0 when the page is not
    in time order, or spans no time: then nothing can be said beyond the page itself)."""
    times = [v.create_time for v in page.videos if isinstance(v.create_time, (int, float))]
    ordered = times == sorted(times) or times == sorted(times, reverse=True)
    if len(times) < 2 or not ordered or max(times) == min(times):
        return 0
    start, end = (dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC) for day in windows.bounds(window))
    window_s = (end - start).total_seconds() + 86400
    return math.ceil(len(page.videos) * window_s / (max(times) - min(times)))


def estimate(plan: HarvestPlan, *, keys: list[str], daily_requests: int, requests_left_today: int,
             harvests_sharing: int, probes: Sequence[WindowProbe] = ()) -> HarvestEstimate:
    accounts = len(plan.accounts)
    found = [EndpointEstimate("video_query", "research", len(plan.windows), *_videos(probes))]
    if "users" in plan.collect:
        found.append(EndpointEstimate("user_info", "research", 0, *_scaled(probes, "authors", per_request=1)))
    if "comments" in plan.collect:
        found.append(EndpointEstimate("comment_list", "research", 0, *_comments(plan, probes)))
    for collected, endpoint in FOLLOW_ENDPOINTS.items():
        if collected in plan.collect:
            found.append(EndpointEstimate(endpoint, "follows", accounts))
    for listed, (_, endpoint) in VIDEO_LIST_ENDPOINTS.items():
        if listed in plan.collect:
            found.append(EndpointEstimate(endpoint, "research", accounts))
    if "playlists" in plan.collect:
        found.append(EndpointEstimate("playlist_info", "research", 0))
    research = [e for e in found if e.budget == "research"]
    at_least = sum(e.requests_at_least for e in research)
    guessed = None
    if probes:
        guessed = sum(e.requests_estimate if e.requests_estimate is not None else e.requests_at_least for e in research)
    share = harvests_sharing + 1  # the keys' days are shared evenly with the others asking
    return HarvestEstimate(
        plan.id, plan.project, list(plan.windows), keys, daily_requests, requests_left_today, harvests_sharing, found,
        at_least, _days(at_least, requests_left_today // share, daily_requests // share),
        probe_requests=len(probes), requests_estimate=guessed,
        days_estimate=_days(guessed, requests_left_today // share, daily_requests // share) if guessed else None,
        probes=list(probes), new_days_from=plan.new_days_from)


def _videos(probes: Sequence[WindowProbe]) -> tuple[int | None, int | None]:
    if not probes:
        return None, None
    records = sum(p.records for p in probes)
    return sum(max(1, math.ceil(p.records / PAGE_SIZE)) for p in probes), records


def _scaled(probes: Sequence[WindowProbe], what: str, per_request: int) -> tuple[int | None, int | None]:
    """Authors scale with the videos, from the first pages' ratio (distinct authors over the
    whole harvest are fewer: an upper side estimate)."""
    sampled = sum(p.videos_on_first_page for p in probes)
    if not probes or not sampled:
        return (0, 0) if probes else (None, None)
    ratio = sum(p.authors_on_first_page for p in probes) / sampled
    count = math.ceil(ratio * sum(p.records for p in probes))
    return math.ceil(count / per_request), count


def _comments(plan: HarvestPlan, probes: Sequence[WindowProbe]) -> tuple[int | None, int | None]:
    """The first pages' comments and comment pages (a page per 100 of a video's comments, none
    for a video without), scaled to the windows' videos. A spec's per-video limit is not
    applied to the sample: an upper side estimate."""
    sampled = sum(p.videos_on_first_page for p in probes)
    if not probes or not sampled:
        return (0, 0) if probes else (None, None)
    scale = sum(p.records for p in probes) / sampled
    requests = math.ceil(scale * sum(p.comment_requests_on_first_page for p in probes))
    return requests, math.ceil(scale * sum(p.comments_on_first_page for p in probes))


def _days(requests: int, left_today: int, per_day: int) -> int:
    """Calendar days (today counted) to spend `requests` with `left_today` now and `per_day`
    from tomorrow."""
    if requests <= left_today:
        return 1
    if per_day <= 0:
        return 0  # never: no budget (reported as 0 days: cannot be planned)
    return 1 + math.ceil((requests - left_today) / per_day)
