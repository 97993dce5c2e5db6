"""Records of relations between accounts (JSON-LD, like schemas/records.py's)."""

import msgspec

from schemas.records import Context, CreativeWork, Person


class FollowRecord(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="@type", tag="FollowAction"):
    """One account following another: schema.org's FollowAction, the follower its `agent`
    and the account followed its `object` (top level, one record per relation)."""

    context: Context = msgspec.field(name="@context")
    id: str = msgspec.field(name="@id")  # iCANDID_tiktok_follow_<follower>_<followed>
    additionalType: str
    agent: Person
    object: Person
    isBasedOn: CreativeWork
