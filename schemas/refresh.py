"""A compliance refresh of a done harvest: the batches it asks TikTok about (kept in Redis
while it runs), the removal log it leaves for iCANDID, and what `tiktok-harvest refresh`
answers."""

from typing import Literal

import msgspec


class RefreshBatch(msgspec.Struct, frozen=True):
    """Up to 100 stored videos asked about in one video query, all created between
    `start_date` and `end_date` (yyyymmdd, UTC; at most 30 days apart, as the API demands)."""

    start_date: str
    end_date: str
    video_ids: list[str]  # digits: ids are above 2^53


RemovedKind = Literal["video", "comment", "act"]


class RemovedRecord(msgspec.Struct, frozen=True):
    """One record taken out of records/: the video itself, a comment under it, or an act
    (like, pin, repost) on it."""

    id: str = msgspec.field(name="@id")
    kind: RemovedKind
    video_id: str  # the video TikTok no longer serves, that the record is or belongs to
    record: msgspec.Raw  # the record exactly as it was stored


class RemovalLog(msgspec.Struct, frozen=True):
    """One file of a refresh's removal log: the records taken out of one records file
    (`records/TikTok/<harvest>/removed/<yyyymmdd>/tiktok_removed_<refresh>_<file name>`)."""

    harvest: str
    refresh: str
    decided_at: str  # ISO 8601, UTC: when the refresh found the videos gone
    reason: str
    source_file: str  # where the records were, relative to records/TikTok/<harvest>/
    removed: list[RemovedRecord]


class RefreshStarted(msgspec.Struct, frozen=True):
    """What `tiktok-harvest refresh ID --json` prints."""

    harvest: str
    refresh: str | None  # None when the harvest stored no video to check
    joined: bool  # a refresh was in progress already: this one joined it
    videos: int  # stored videos asked about
    unchecked: int  # stored videos that cannot be asked about: no creation date, or an id not in digits
    batches: int  # one video query each (more only when TikTok pages an answer)
    batches_sent: int  # batches whose first message was sent now
