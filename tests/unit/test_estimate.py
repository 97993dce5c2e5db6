"""What `tiktok-harvest plan` says before anything is spent (producers/estimate.py): the
least requests per endpoint from the plan alone, a window known exactly when its first page
is its last, extrapolated from the time its first page spans otherwise (and only "at least a
page" when the page is not in time order), and the calendar days given the keys' budget."""

import datetime as dt

from producers.estimate import estimate, probe_window
from schemas.api import Video, VideoPage

WINDOW = "20240101-20240131"  # 31 days
JAN_1 = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())


def page(n: int, *, has_more: bool, spread_s: int, ordered: bool = True, comments: int = 0) -> VideoPage:
    times = [JAN_1 + spread_s - i * spread_s // max(1, n - 1) for i in range(n)]
    if not ordered:
        times = times[::2] + times[1::2]
    return VideoPage([Video(id=i, create_time=t, username=f"user{i % 10}", comment_count=comments)
                      for i, t in enumerate(times)], has_more=has_more, cursor=n)


def test_a_window_whose_first_page_is_its_last_is_known_exactly():
    probe = probe_window(WINDOW, page(37, has_more=False, spread_s=86400 * 20))
    assert (probe.records, probe.exact, probe.authors_on_first_page) == (37, True, 10)


def test_a_bigger_window_is_extrapolated_from_the_time_its_first_page_spans():
    probe = probe_window(WINDOW, page(100, has_more=True, spread_s=86400 * 31 // 10))  # a tenth of the window
    assert not probe.exact and 990 <= probe.records <= 1010


def test_a_first_page_out_of_time_order_says_only_at_least_a_page():
    assert probe_window(WINDOW, page(100, has_more=True, spread_s=86400, ordered=False)).records == 100


def test_without_a_probe_only_lower_bounds_from_the_plan(make_plan):
    plan = make_plan(collect=["videos", "users", "followers", "liked_videos"], accounts=["alice", "bob"])
    found = estimate(plan, keys=["k"], daily_requests=1000, requests_left_today=1000, harvests_sharing=0)
    least = {e.endpoint: (e.budget, e.requests_at_least, e.requests_estimate) for e in found.endpoints}
    assert least == {"video_query": ("research", 1, None), "user_info": ("research", 0, None),
                     "user_followers": ("follows", 2, None), "user_liked_videos": ("research", 2, None)}
    assert (found.requests_at_least, found.days_at_least, found.requests_estimate) == (3, 1, None)


def test_a_probe_estimates_requests_per_endpoint_and_the_days_they_take(make_plan):
    plan = make_plan(collect=["videos", "users", "comments"])
    probes = [probe_window(WINDOW, page(100, has_more=True, spread_s=86400 * 31 // 30, comments=250))]
    # ~3,000 videos; 10 authors per 100 videos; 250 comments each: 3 comment pages a video.
    found = estimate(plan, keys=["k"], daily_requests=1000, requests_left_today=400, harvests_sharing=1,
                     probes=probes)
    by = {e.endpoint: e.requests_estimate or 0 for e in found.endpoints}
    assert 29 <= by["video_query"] <= 31
    assert 290 <= by["user_info"] <= 310
    assert 8900 <= by["comment_list"] <= 9300
    total = found.requests_estimate or 0
    # Shared with one other harvest: 200 left today, then 500 a day.
    assert found.days_estimate == 1 + -(-(total - 200) // 500)
    assert found.probe_requests == 1
