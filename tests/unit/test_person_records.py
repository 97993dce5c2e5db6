"""The JSON-LD person record, the encoding of records, and properties over arbitrary API
objects."""

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.api import UserInfo, Video
from schemas.records import PersonRecord, VideoRecord
from tests.unit.record_helpers import (
    DOWNLOADED,
    DOWNLOADED_ISO,
    PLAN,
    encoded,
    full_video,
    walk,
)
from workers.records import (
    encode_records,
    user_record,
    video_record,
)

# --- user records ----------------------------------------------------------------------------


def full_info() -> UserInfo:
    return UserInfo(
        display_name="Kiesraad",
        bio_description="Officieel account",
        avatar_url="https://p16/a.jpg",
        is_verified=True, follower_count=1000, following_count=3, likes_count=25000,
        video_count=14, bio_url="https://kiesraad.be",
    )


def test_user_record_every_field():
    rec = encoded(user_record("kiesraad_be", full_info(), "ok", PLAN, DOWNLOADED))
    assert rec["@type"] == "Person"
    assert rec["@id"] == "iCANDID_tiktok_user_kiesraad_be"
    assert rec["additionalType"] == "CreativeWork"
    assert rec["@context"]["@language"] == "und-Latn"
    assert rec["alternateName"] == "kiesraad_be"
    assert rec["name"] == "Kiesraad"
    assert rec["description"] == "Officieel account"
    assert rec["image"] == "https://p16/a.jpg"
    assert rec["url"] == "https://www.tiktok.com/@kiesraad_be"
    assert rec["sameAs"] == "https://kiesraad.be"
    assert rec["additionalProperty"] == [
        {"@type": "PropertyValue", "name": "tiktok_account_status", "value": "ok"},
        {"@type": "PropertyValue", "name": "verified", "value": True},
    ]
    on = {c["interactionType"]: c["userInteractionCount"] for c in rec["interactionStatistic"]}
    by = {c["interactionType"]: c["userInteractionCount"] for c in rec["agentInteractionStatistic"]}
    assert on == {"https://schema.org/FollowAction": 1000, "https://schema.org/LikeAction": 25000}
    assert by == {"https://schema.org/FollowAction": 3, "https://schema.org/CreateAction": 14}
    for c in rec["interactionStatistic"] + rec["agentInteractionStatistic"]:
        assert c["endTime"] == DOWNLOADED_ISO
    assert rec["isBasedOn"]["isPartOf"]["@id"] == PLAN.id


def test_user_record_links_to_video_author():
    video = encoded(video_record(full_video(), PLAN, DOWNLOADED))
    user = encoded(user_record("kiesraad_be", full_info(), "ok", PLAN, DOWNLOADED))
    assert video["author"]["@id"] == user["@id"]
    assert video["author"]["url"] == user["url"]
    user_struct = user_record("kiesraad_be", None, "private", PLAN, DOWNLOADED)
    assert isinstance(user_struct, PersonRecord)
    decoded = msgspec.json.decode(encode_records([user_struct]), type=list[PersonRecord])
    assert decoded == [user_struct]


@pytest.mark.parametrize("outcome", ["unknown", "private", "restricted"])
def test_user_record_non_ok_outcome_holds_only_what_is_known(outcome):
    rec = encoded(user_record("ghost", None, outcome, PLAN, DOWNLOADED))
    assert set(rec) == {
        "@type", "@id", "alternateName", "url", "additionalProperty",
        "@context", "additionalType", "isBasedOn",
    }
    assert rec["additionalProperty"] == [
        {"@type": "PropertyValue", "name": "tiktok_account_status", "value": outcome}
    ]


def test_user_record_partial_info_and_unverified():
    info = UserInfo(display_name="Привет", is_verified=False, follower_count=0)
    rec = encoded(user_record("@ivan", info, "ok", PLAN, DOWNLOADED))
    assert rec["@id"] == "iCANDID_tiktok_user_ivan"
    assert rec["@context"]["@language"] == "und-Cyrl"  # no bio: the display name decides
    verified = {"@type": "PropertyValue", "name": "verified", "value": False}
    assert verified in rec["additionalProperty"]
    assert [c["userInteractionCount"] for c in rec["interactionStatistic"]] == [0]
    for key in ("description", "image", "sameAs", "agentInteractionStatistic"):
        assert key not in rec


def test_user_record_rejects_an_outcome_it_does_not_know():
    with pytest.raises(ValueError):
        user_record("someone", None, "banned", PLAN, DOWNLOADED)


@pytest.mark.parametrize("username, key, shown", [("@\x00", "%00", "%00"), ("@", "%40", "@"), (" ", "%40", "@")])
def test_a_name_no_account_can_have_still_gets_a_record_of_its_own(username, key, shown):
    rec = encoded(user_record(username, None, "unknown", PLAN, DOWNLOADED))
    assert rec["@id"] == f"iCANDID_tiktok_user_{key}" and rec["alternateName"] == shown
    assert "url" not in rec


# --- encoding --------------------------------------------------------------------------------


def test_encode_records_is_one_utf8_array_and_deterministic():
    records: list[VideoRecord | PersonRecord] = [
        video_record(Video(id=1, video_description="Ça va? 你好"), PLAN, DOWNLOADED),
        user_record("ghost", None, "unknown", PLAN, DOWNLOADED),
    ]
    first = encode_records(records)
    again = encode_records(
        [
            video_record(Video(id=1, video_description="Ça va? 你好"), PLAN, DOWNLOADED),
            user_record("ghost", None, "unknown", PLAN, DOWNLOADED),
        ]
    )
    assert first == again
    assert first.startswith(b"[") and first.endswith(b"]")
    assert "Ça va? 你好".encode() in first  # raw UTF-8, not \u escapes
    assert [r["@type"] for r in json.loads(first)] == ["Message", "Person"]
    assert encode_records([]) == b"[]"


# --- properties over arbitrary API objects ---------------------------------------------------

_text = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
_count = st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1))
_videos = st.builds(
    Video,
    id=st.one_of(
        st.integers(min_value=1, max_value=2**64 - 1),
        st.integers(min_value=1, max_value=2**64 - 1).map(str),
    ),
    video_description=_text,
    voice_to_text=_text,
    username=_text,
    region_code=_text,
    create_time=st.one_of(st.none(), st.integers(min_value=0, max_value=4_000_000_000)),
    view_count=_count,
    like_count=_count,
    share_count=_count,
    comment_count=_count,
    favorites_count=_count,
    music_id=st.one_of(st.none(), st.integers(min_value=0, max_value=2**64 - 1), _text),
    hashtag_names=st.one_of(st.none(), st.lists(st.text())),
    video_mention_list=st.one_of(st.none(), st.lists(st.text())),
    video_duration=st.one_of(st.none(), st.integers(0, 10**6), st.floats(allow_nan=True)),
)


@settings(max_examples=300, deadline=None)
@given(_videos)
def test_any_video_encodes_without_null_or_nul_and_keeps_its_id(video):
    rec = video_record(video, PLAN, DOWNLOADED)
    data = encode_records([rec])
    assert data == encode_records([video_record(video, PLAN, DOWNLOADED)])
    assert b"\\u0000" not in data
    doc = json.loads(data)[0]
    assert all(value is not None for value in walk(doc))
    assert all(value not in ("", [], {}) for value in walk(doc))
    expected_id = str(video.id).replace("\x00", "").strip()
    assert doc["@id"] == f"iCANDID_tiktok_{expected_id}"
    assert doc["identifier"][0]["value"] == expected_id


_infos = st.builds(
    UserInfo,
    display_name=_text,
    bio_description=_text,
    avatar_url=_text,
    bio_url=_text,
    is_verified=st.one_of(st.none(), st.booleans()),
    follower_count=_count,
    following_count=_count,
    likes_count=_count,
    video_count=_count,
)


@settings(max_examples=200, deadline=None)
@given(
    st.text(),  # any name: blank ones and ones holding NUL get a record too
    st.one_of(st.none(), _infos),
    st.sampled_from(["ok", "unknown", "private", "restricted"]),
)
def test_any_user_encodes_without_null_or_nul(username, info, outcome):
    data = encode_records([user_record(username, info, outcome, PLAN, DOWNLOADED)])
    assert b"\\u0000" not in data
    doc = json.loads(data)[0]
    assert all(value is not None for value in walk(doc))
    assert all(value not in ("", [], {}) for value in walk(doc))
