"""The status panel shows every endpoint a harvest collects from, with TikTok's refusals."""

from rich.console import Console

from harvest_cli.render import status_panel
from schemas.status import EndpointStatus, HarvestStatus


def rendered(status: HarvestStatus) -> str:
    console = Console(width=200, record=True)
    console.print(status_panel(status))
    return console.export_text()


def a_status(**endpoints: EndpointStatus) -> HarvestStatus:
    return HarvestStatus(
        id="h1", state="running", name="h1", project="p", credential="c", period="20240101-20240131",
        windows_total=4, windows_done=2, pages=10, records=900, users_requested=50, users_done=40,
        requests=80, quota_waits=0, errors=0, dead_letters=0, submitted_at=0.0, endpoints=endpoints)


def test_each_follow_up_endpoint_has_its_row_with_outcomes():
    text = rendered(a_status(
        video_query=EndpointStatus(10, 900, 10, 2, 4),
        user_info=EndpointStatus(40, 40, 40, 40, 50, {"private": 3}),
        comment_list=EndpointStatus(30, 2500, 30, 12, 20),
        user_followers=EndpointStatus(7, 1800, 7, 1, 2, {"private": 1}),
        user_liked_videos=EndpointStatus(5, 450, 5, 2, 2, {"restricted": 1}),
        playlist_info=EndpointStatus(3, 2, 3, 2, 3, {"unknown": 1}),
    ))
    assert "40/50; not given: 3 private" in text
    assert "2,500 comments, 12/20 videos done, 30 requests" in text
    assert "1,800 relations, 1/2 accounts done, 7 requests; not given: 1 private" in text
    assert "450 likes, 2/2 accounts done, 5 requests; not given: 1 restricted" in text
    assert "2 playlists, 2/3 playlists done, 3 requests; not given: 1 unknown" in text
    assert "following" not in text and "pinned" not in text  # not collected: no row


def test_a_videos_only_harvest_shows_no_follow_up_rows():
    text = rendered(a_status(video_query=EndpointStatus(10, 900, 10, 2, 4)))
    assert "comments" not in text and "relations" not in text and "not given" not in text


def test_each_keys_part_of_the_requests_shows_when_there_are_several():
    status = a_status(video_query=EndpointStatus(10, 900, 10, 2, 4))
    assert "(climate-a" not in rendered(status)
    status.requests_by_key.update({"climate-a": 50, "climate-b": 30})
    assert "80 (climate-a: 50, climate-b: 30)" in rendered(status)


def test_a_harvest_in_progress_shows_a_rough_time_to_finish():
    status = a_status(video_query=EndpointStatus(10, 900, 10, 2, 4))
    assert "done in" not in rendered(status)
    status.eta_s = 3 * 3600 + 125
    assert "about 3:02:05" in rendered(status)
