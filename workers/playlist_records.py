"""A TikTok playlist -> an iCANDID schema.org JSON-LD record (pure functions, like records.py):
an ItemList of the playlist's videos in order, each by its video record's `@id`."""

from schemas.api import Playlist
from schemas.records import ListItem, MessageRef, PlaylistRecord, PropertyValue
from schemas.spec import HarvestPlan
from workers.records import ADDITIONAL_TYPE, ID_PREFIX, based_on, clean, context, unix_to_iso


def playlist_record(playlist_id: str, fields: Playlist, video_ids: list[str], plan: HarvestPlan) -> PlaylistRecord:
    name = clean(fields.playlist_name)
    return PlaylistRecord(
        context=context(name),
        id=f"{ID_PREFIX}playlist_{playlist_id}",
        additionalType=ADDITIONAL_TYPE,
        identifier=[PropertyValue(name="playlist_id", value=playlist_id)],
        name=name,
        numberOfItems=fields.playlist_item_total if isinstance(fields.playlist_item_total, int) else None,
        dateModified=unix_to_iso(fields.playlist_last_updated),
        itemListElement=[ListItem(position=n, item=MessageRef(id=f"{ID_PREFIX}{video_id}"))
                         for n, video_id in enumerate(video_ids, start=1)],
        isBasedOn=based_on(plan),
    )
