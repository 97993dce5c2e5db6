"""The JSON-LD video record (workers/records.py): every field, exact ids, missing data left
out, NUL removal, dates and durations, script detection (language: test_language.py)."""

import datetime
import json

import msgspec
import pytest

from schemas.api import UserInfo, Video
from schemas.records import VideoRecord
from tests.unit.record_helpers import (
    BIG_ID,
    DOWNLOADED,
    DOWNLOADED_ISO,
    MUSIC_ID,
    PLAN,
    encoded,
    full_video,
    ref,
)
from workers.records import (
    encode_records,
    iso_duration,
    unix_to_iso,
    user_record,
    video_record,
)
from workers.scripts import detect_script

# --- the video record, field by field --------------------------------------------------------


def test_video_record_every_field():
    rec = encoded(video_record(full_video(), PLAN, DOWNLOADED))
    assert rec["@type"] == "Message"
    assert rec["@id"] == f"iCANDID_tiktok_{BIG_ID}"
    assert rec["additionalType"] == "CreativeWork"
    # The description is too short to tell its language by once the hashtag is left out (three
    # words); the transcript, next in line, is Dutch.
    assert rec["@context"] == {
        "@vocab": "https://schema.org/",
        "@language": "nl-Latn",
        "prov": "http://www.w3.org/ns/prov#",
    }
    assert rec["identifier"] == [
        {"@type": "PropertyValue", "name": "video_id", "value": str(BIG_ID)},
        {"@type": "PropertyValue", "name": "music_id", "value": str(MUSIC_ID)},
    ]
    assert rec["name"] == "Stem op 9 juni! #verkiezingen"
    assert rec["text"] == "Vergeet niet te stemmen"
    assert rec["datePublished"] == "2024-05-29T16:26:40Z"
    assert rec["sameAs"] == f"https://www.tiktok.com/@kiesraad_be/video/{BIG_ID}"
    assert rec["keywords"] == ["verkiezingen", "belgie"]
    assert rec["locationCreated"] == {"@type": "Place", "name": "BE", "alternateName": "be"}
    assert rec["author"] == rec["creator"] == rec["sender"] == ref("kiesraad_be")
    assert rec["associatedMedia"] == {
        "@type": "AudioObject",
        "@id": f"iCANDID_tiktok_music_{MUSIC_ID}",
        "duration": "PT42S",
    }
    counters = {c["interactionType"]: c for c in rec["interactionStatistic"]}
    assert {k: c["userInteractionCount"] for k, c in counters.items()} == {
        "https://schema.org/WatchAction": 3400,
        "https://schema.org/LikeAction": 250,
        "https://schema.org/ShareAction": 12,
        "https://schema.org/CommentAction": 31,
        "https://schema.org/BookmarkAction": 7,
    }
    for c in rec["interactionStatistic"]:
        assert c["@type"] == "InteractionCounter"
        assert c["endTime"] == DOWNLOADED_ISO
    assert rec["mentions"] == [ref("vrt_nws"), ref("hln_be")]  # a leading @ is dropped
    based = rec["isBasedOn"]
    assert based["@type"] == "CreativeWork"
    assert based["@id"] == "iCANDID_tiktok_tiktok_query_0000001"
    assert based["provider"]["@type"] == "Organization"
    assert based["provider"]["name"] == "TikTok"
    dataset = based["isPartOf"]
    assert dataset["@type"] == "Dataset"
    assert dataset["@id"] == PLAN.id
    assert dataset["name"] == PLAN.name
    assert "TikTok Research API" in dataset["license"] and "research" in dataset["license"]
    assert dataset["temporalCoverage"] == "2024-05-01/2024-06-09"
    # Fields with no mapping (effect_ids, video_label) stay in the raw page only.
    assert "effect_ids" not in rec and "video_label" not in rec


def test_video_record_is_its_declared_type():
    rec = video_record(full_video(), PLAN, DOWNLOADED)
    assert isinstance(rec, VideoRecord)
    # The encoded record decodes back into the same struct: the schema is the contract.
    assert msgspec.json.decode(encode_records([rec]), type=list[VideoRecord]) == [rec]


# --- ids above 2^53 --------------------------------------------------------------------------


@pytest.mark.parametrize("raw_id", [BIG_ID, str(BIG_ID), 2**63 - 1, 18446744073709551615])
def test_ids_stay_exact(raw_id):
    rec = video_record(Video(id=raw_id, music_id=raw_id, username="a"), PLAN, DOWNLOADED)
    text = encode_records([rec]).decode()
    expected = str(raw_id)
    assert rec.id == f"iCANDID_tiktok_{expected}"
    assert [p.value for p in rec.identifier] == [expected, expected]
    assert rec.sameAs == f"https://www.tiktok.com/@a/video/{expected}"
    # Written as strings, never as JSON numbers a JavaScript reader would round.
    assert f'"value":"{expected}"' in text
    assert f":{expected}" not in text


def test_music_id_as_string_and_loose_types():
    rec = video_record(Video(id=1, music_id="  42 "), PLAN, DOWNLOADED)
    assert [p.value for p in rec.identifier] == ["1", "42"]
    # A music_id of an unexpected shape is left out rather than guessed at.
    for odd in ({"id": 1}, [1], 1.5, True):
        rec = video_record(Video(id=1, music_id=odd), PLAN, DOWNLOADED)
        assert [p.name for p in rec.identifier] == ["video_id"]


def test_video_without_id_is_refused():
    with pytest.raises(ValueError):
        video_record(Video(id="\x00 "), PLAN, DOWNLOADED)


# --- missing data is left out --------------------------------------------------------------


def test_minimal_video_leaves_everything_else_out():
    rec = encoded(video_record(Video(id=BIG_ID), PLAN, DOWNLOADED))
    assert set(rec) == {"@type", "@context", "@id", "additionalType", "identifier", "isBasedOn"}
    assert rec["@context"]["@language"] == "und-Latn"  # no text at all


def test_empty_values_are_left_out():
    video = Video(
        id=1, video_description="\x00", voice_to_text="", hashtag_names=["", "\x00"],
        video_mention_list=["", "@"], region_code=" ", username="",
    )
    rec = encoded(video_record(video, PLAN, DOWNLOADED))
    for key in ("name", "text", "keywords", "mentions", "locationCreated", "author", "sameAs"):
        assert key not in rec


def test_partial_counts_only_present_ones():
    rec = encoded(video_record(Video(id=1, like_count=0, view_count=None), PLAN, DOWNLOADED))
    assert rec["interactionStatistic"] == [
        {
            "@type": "InteractionCounter",
            "interactionType": "https://schema.org/LikeAction",
            "userInteractionCount": 0,  # zero is data, not absence
            "endTime": DOWNLOADED_ISO,
        }
    ]


def test_duration_without_music_and_music_without_duration():
    rec = encoded(video_record(Video(id=1, video_duration=75), PLAN, DOWNLOADED))
    assert rec["associatedMedia"] == {"@type": "AudioObject", "duration": "PT1M15S"}
    rec = encoded(video_record(Video(id=1, music_id=5), PLAN, DOWNLOADED))
    assert rec["associatedMedia"] == {"@type": "AudioObject", "@id": "iCANDID_tiktok_music_5"}


def test_plan_without_name():
    plan = msgspec.structs.replace(PLAN, name="")
    rec = encoded(video_record(Video(id=1), plan, DOWNLOADED))
    assert "name" not in rec["isBasedOn"]["isPartOf"]


# --- NUL characters ------------------------------------------------------------------------


def test_nul_removed_from_every_text():
    video = Video(
        id="12\x0034",
        video_description="a\x00b",
        voice_to_text="\x00c",
        username="us\x00er",
        region_code="B\x00E",
        hashtag_names=["t\x00ag"],
        video_mention_list=["m\x00e"],
        music_id="9\x009",
    )
    data = encode_records([video_record(video, PLAN, DOWNLOADED)])
    assert b"\\u0000" not in data and b"\x00" not in data
    rec = json.loads(data)[0]
    assert rec["@id"] == "iCANDID_tiktok_1234"
    assert (rec["name"], rec["text"], rec["keywords"]) == ("ab", "c", ["tag"])
    # A username with NUL is not the name without it: it keeps an @id of its own, spelled
    # with the NUL escaped, and links to no profile page (no account can have that name).
    assert rec["author"] == {"@type": "Person", "@id": "iCANDID_tiktok_user_us%00er", "alternateName": "us%00er"}
    assert "sameAs" not in rec
    assert rec["mentions"] == [{"@type": "Person", "@id": "iCANDID_tiktok_user_m%00e", "alternateName": "m%00e"}]
    assert rec["locationCreated"]["name"] == "BE"
    assert rec["identifier"][1]["value"] == "99"


def test_nul_removed_from_user_record():
    info = UserInfo(
        display_name="N\x00ame", bio_description="b\x00io", avatar_url="https://a/\x00x",
        bio_url="https://b\x00.be",
    )
    data = encode_records([user_record("jo\x00hn", info, "ok", PLAN, DOWNLOADED)])
    assert b"\\u0000" not in data
    rec = json.loads(data)[0]
    assert rec["@id"] == "iCANDID_tiktok_user_jo%00hn" and "url" not in rec
    assert (rec["name"], rec["description"]) == ("Name", "bio")
    assert (rec["image"], rec["sameAs"]) == ("https://a/x", "https://b.be")


# --- dates and durations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "iso"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1717000000, "2024-05-29T16:26:40Z"),
        (1717000000.9, "2024-05-29T16:26:40Z"),
        (None, None),
        (float("nan"), None),
        (10**20, None),
    ],
)
def test_unix_to_iso(seconds, iso):
    assert unix_to_iso(seconds) == iso


@pytest.mark.parametrize(
    ("seconds", "iso"),
    [
        (0, "PT0S"),
        (42, "PT42S"),
        (60, "PT1M"),
        (75, "PT1M15S"),
        (3600, "PT1H"),
        (3725, "PT1H2M5S"),
        (42.5, "PT42.5S"),
        (59.9999, "PT1M"),
        (-1, None),
        (None, None),
        (float("inf"), None),
    ],
)
def test_iso_duration(seconds, iso):
    assert iso_duration(seconds) == iso


def test_endtime_in_utc_from_any_timezone_and_naive():
    brussels = datetime.timezone(datetime.timedelta(hours=2))
    for moment in (
        datetime.datetime(2024, 6, 10, 10, 30, 15, tzinfo=brussels),
        datetime.datetime(2024, 6, 10, 8, 30, 15),  # naive is taken as UTC
    ):
        rec = video_record(Video(id=1, view_count=1), PLAN, moment)
        assert rec.interactionStatistic is not None
        assert rec.interactionStatistic[0].endTime == DOWNLOADED_ISO


# --- script detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("Stem op 9 juni!", "Latn"),
        ("Привет, мир", "Cyrl"),
        ("مرحبا بالعالم #vote", "Arab"),
        ("你好世界", "Hani"),
        ("안녕하세요 世界", "Hang"),
        ("こんにちは世界", "Jpan"),
        ("カタカナ", "Jpan"),
        ("สวัสดีครับ", "Thai"),
        ("Καλημέρα", "Grek"),
        ("שלום עולם", "Hebr"),
        ("नमस्ते दुनिया", "Deva"),
        ("大韓民國 만세", "Hang"),  # hanja outnumber hangul: still Korean
        ("ＦＵＬＬＷＩＤＴＨ кот", "Latn"),  # styled letters count as the letters they are
        ("𝐁𝐨𝐥𝐝𝐞𝐫 𝐛𝐢𝐨 мир", "Latn"),
        ("Hi 你好世界", "Hani"),  # most letters win
        ("🔥🔥 123 !!", "Latn"),
        ("", "Latn"),
        (None, "Latn"),
    ],
)
def test_detect_script(text, script):
    assert detect_script(text) == script


def test_script_in_context_from_description_then_transcript():
    rec = video_record(Video(id=1, video_description="Привет"), PLAN, DOWNLOADED)
    assert rec.context.language == "und-Cyrl"
    # No letters in the description (only emoji): the transcript decides.
    rec = video_record(Video(id=1, video_description="🔥", voice_to_text="مرحبا"), PLAN, DOWNLOADED)
    assert rec.context.language == "und-Arab"
