"""An account's liked, pinned and reposted videos -> records (pure functions, like records.py):
the video itself (a video record, the same as when a search finds it) and the act relating
the account to it (LikeAction, ShareAction for a repost, ChooseAction for a pin)."""

from schemas import usernames
from schemas.records import MessageRef
from schemas.relations import LikeRecord, PinRecord, RepostRecord
from schemas.spec import HarvestPlan
from workers.records import ADDITIONAL_TYPE, ID_PREFIX, based_on, context, person_ref

RecordType = type[LikeRecord] | type[PinRecord] | type[RepostRecord]
KINDS: dict[str, tuple[str, RecordType]] = {
    "liked": ("like", LikeRecord), "pinned": ("pin", PinRecord), "reposted": ("repost", RepostRecord),
}


def act_key(which: str, username: str, video_id: str) -> str:
    """`<act>_<escaped account>~<video id>`: `~` is never written by escaping."""
    return f"{KINDS[which][0]}_{usernames.escape(usernames.normalise(username))}~{video_id}"


def act_record(which: str, username: str, video_id: str, plan: HarvestPlan) -> LikeRecord | PinRecord | RepostRecord:
    record_type = KINDS[which][1]
    return record_type(
        context=context(),
        id=f"{ID_PREFIX}{act_key(which, username, video_id)}",
        additionalType=ADDITIONAL_TYPE,
        agent=person_ref(username),
        object=MessageRef(id=f"{ID_PREFIX}{video_id}"),
        isBasedOn=based_on(plan),
    )
