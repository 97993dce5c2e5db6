"""The baseline: one client doing the same requests one after another, as today's published
clients do (window by window, page by page, then each author)."""

import time

from core import windows
from core.config import Settings
from core.credentials import load_credentials
from producers.submission import prepare
from schemas.api import VideoQueryBody
from workers.tiktok.client import TikTokClient, make_http_client


def sequential_harvest(spec: dict, settings: Settings) -> tuple[float, int]:
    """Returns (seconds, requests)."""
    plan = prepare(spec, settings)
    credential = load_credentials(settings.credentials_file)[plan.credential]
    client = TikTokClient(make_http_client(settings.api_base_url))
    began = time.perf_counter()
    token, _ = client.request_token(credential.client_key, credential.client_secret)
    requests, authors = 0, set[str]()
    for window in plan.windows:
        start, end = windows.bounds(window)
        cursor, search_id, more = None, None, True
        while more:
            page, _ = client.query_videos(token, VideoQueryBody(query=plan.query, start_date=start, end_date=end,
                                                                  max_count=100, cursor=cursor, search_id=search_id))
            requests += 1
            authors.update(v.username for v in page.videos if v.username)
            search_id = None if page.search_id is None else str(page.search_id)  # as workers/pages.py sends it
            cursor, more = page.cursor, page.has_more
    if "users" in plan.collect:
        for username in sorted(authors):
            client.user_info(token, username)
            requests += 1
    return time.perf_counter() - began, requests
