"""A full video, a harvest plan and ways to look into encoded records, for the record tests."""

import datetime
import json

import msgspec

from schemas.api import Video, VideoQueryResponse
from schemas.query import Condition, Query
from schemas.spec import HarvestPlan
from workers.records import (
    encode_records,
)

UTC = datetime.UTC
DOWNLOADED = datetime.datetime(2024, 6, 10, 8, 30, 15, 123456, tzinfo=UTC)
DOWNLOADED_ISO = "2024-06-10T08:30:15Z"
BIG_ID = 7354321098765432123  # > 2^53: a float would turn it into ...432192
MUSIC_ID = 7354000000000000001

PLAN = HarvestPlan(
    id="tiktok_query_0000001",
    name="Belgian elections 2024",
    project="demo",
    credential="team-a",
    query=Query(and_=[Condition(field_name="region_code", operation="EQ", field_values=["BE"])]),
    period_start="20240501",
    period_end="20240609",
    storage_date="20240610",
    submitted_at=1717999999.0,
    spec_digest="abc",
    collect=["videos", "users"],
    windows=["20240601-20240609"],
)

FULL_PAGE = (
    b'{"data": {"videos": [{"id": %d, "video_description": "Stem op 9 juni! #verkiezingen",'
    b' "create_time": 1717000000, "region_code": "BE", "username": "kiesraad_be",'
    b' "share_count": 12, "view_count": 3400, "like_count": 250, "comment_count": 31,'
    b' "favorites_count": 7, "music_id": %d, "hashtag_names": ["verkiezingen", "belgie"],'
    b' "voice_to_text": "Vergeet niet te stemmen", "video_duration": 42,'
    b' "video_mention_list": ["vrt_nws", "@hln_be"], "effect_ids": ["1"],'
    b' "video_label": {"content": "x"}}], "cursor": 100, "has_more": false},'
    b' "error": {"code": "ok", "message": "", "log_id": "x"}}' % (BIG_ID, MUSIC_ID)
)


def full_video() -> Video:
    """Decoded from raw bytes the way the worker gets it, so the id is the exact int."""
    page = msgspec.json.decode(FULL_PAGE, type=VideoQueryResponse)
    assert page.data is not None
    return page.data.videos[0]


def encoded(record) -> dict:
    return json.loads(encode_records([record]))[0]


def walk(value):
    """Every value in a decoded JSON document, recursively."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def ref(username: str) -> dict:
    return {
        "@type": "Person",
        "@id": f"iCANDID_tiktok_user_{username}",
        "alternateName": username,
        "url": f"https://www.tiktok.com/@{username}",
    }
