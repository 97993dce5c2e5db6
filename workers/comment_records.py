"""TikTok comments -> iCANDID schema.org JSON-LD records (pure functions, like records.py).

A comment is a `Message` whose `parentItem` is the video it was written under and, for a
reply, also the comment it answers, both by their `@id`: the video's own record is never
rewritten per comment. TikTok masks phone numbers and e-mail addresses in comment text
already; NUL characters are removed, as everywhere.
"""

import datetime

from schemas.api import Comment
from schemas.records import CommentRecord, MessageRef, PropertyValue
from schemas.spec import HarvestPlan
from workers.records import (
    ADDITIONAL_TYPE,
    ID_PREFIX,
    based_on,
    clean,
    context,
    counter,
    id_string,
    iso_utc,
    present,
    unix_to_iso,
)

COMMENT_ID_PREFIX = f"{ID_PREFIX}comment_"


def comment_id(comment_id: str) -> str:
    return f"{COMMENT_ID_PREFIX}{comment_id}"


def comment_record(comment: Comment, video_id: str, plan: HarvestPlan,
                   downloaded_at: datetime.datetime) -> CommentRecord:
    own = id_string(comment.id)
    if own is None:
        raise ValueError(f"comment without a usable id: {comment.id!r}")
    parent = id_string(comment.parent_comment_id)
    parents = [MessageRef(id=f"{ID_PREFIX}{video_id}")]
    if parent is not None and parent != video_id:
        parents.append(MessageRef(id=comment_id(parent)))
    text = clean(comment.text)
    end_time = iso_utc(downloaded_at)
    return CommentRecord(
        context=context(text),
        id=comment_id(own),
        additionalType=ADDITIONAL_TYPE,
        identifier=[PropertyValue(name="comment_id", value=own), PropertyValue(name="video_id", value=video_id)],
        text=text,
        datePublished=unix_to_iso(comment.create_time),
        parentItem=parents,
        interactionStatistic=present([
            counter("LikeAction", comment.like_count, end_time),
            counter("ReplyAction", comment.reply_count, end_time),
        ]),
        isBasedOn=based_on(plan),
    )
