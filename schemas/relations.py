"""Records of relations between accounts (JSON-LD, like schemas/records.py's)."""

import msgspec

from schemas.records import Context, CreativeWork, MessageRef, Person


class FollowRecord(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="@type", tag="FollowAction"):
    """One account following another: schema.org's FollowAction, the follower its `agent`
    and the account followed its `object` (top level, one record per relation)."""

    context: Context = msgspec.field(name="@context")
    id: str = msgspec.field(name="@id")  # iCANDID_tiktok_follow_<follower>_<followed>
    additionalType: str
    agent: Person
    object: Person
    isBasedOn: CreativeWork


class _VideoAction(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="@type"):
    """An account's act on a video (top level, one record per account and video): the
    account is the `agent`, the video (its own record, by `@id`) the `object`."""

    context: Context = msgspec.field(name="@context")
    id: str = msgspec.field(name="@id")
    additionalType: str
    agent: Person
    object: MessageRef
    isBasedOn: CreativeWork


class LikeRecord(_VideoAction, tag="LikeAction", kw_only=True):
    """The account liked the video (iCANDID_tiktok_like_<account>~<video id>)."""


class RepostRecord(_VideoAction, tag="ShareAction", kw_only=True):
    """The account reposted the video (iCANDID_tiktok_repost_<account>~<video id>)."""


class PinRecord(_VideoAction, tag="ChooseAction", kw_only=True):
    """The account pinned the video to the top of its profile: a choice among its videos
    (iCANDID_tiktok_pin_<account>~<video id>)."""
