"""The videos a harvest stored, read back from its records for a compliance refresh: each
video's id and the UTC day it was created (its record's `datePublished`), from every file
that holds video records (workers/exports.py FILES: the search's pages and the accounts'
liked, pinned and reposted videos). One file at a time, only the fields needed."""

import datetime as dt

import msgspec

from schemas.spec import HarvestPlan
from workers.exports import record_files
from workers.records import ID_PREFIX
from workers.storage import Storage


class _Head(msgspec.Struct):
    id: str = msgspec.field(name="@id", default="")
    type: str = msgspec.field(name="@type", default="")
    datePublished: str | None = None


_decode = msgspec.json.Decoder(list[_Head]).decode
VIDEO_TYPE = "Message"  # a video record's @type; the acts beside them have others


def stored_videos(storage: Storage, plan: HarvestPlan) -> tuple[list[tuple[str, dt.date]], int]:
    """(id, creation day) of each stored video, and how many cannot be asked about: no
    creation date, or an id that is not digits (the video query takes digits only)."""
    dated: dict[str, dt.date] = {}
    unchecked: set[str] = set()
    for path in record_files(storage.records_dir(plan), "videos"):
        for head in _decode(path.read_bytes()):
            if head.type != VIDEO_TYPE or not head.id.startswith(ID_PREFIX):
                continue
            video_id = head.id.removeprefix(ID_PREFIX)
            created = _day(head.datePublished)
            if created is None or not (video_id.isascii() and video_id.isdigit()):
                unchecked.add(video_id)
            else:
                dated[video_id] = created
    return sorted(dated.items()), len(unchecked - dated.keys())


def _day(published: str | None) -> dt.date | None:
    """`2024-01-02T12:34:56Z` (always UTC: workers/records.py) -> its day."""
    try:
        return dt.date.fromisoformat(published[:10]) if published else None
    except ValueError:
        return None
