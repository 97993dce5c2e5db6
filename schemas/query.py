"""The TikTok Research API query language (and/or/not lists of conditions)."""

from typing import Literal

import msgspec

Operation = Literal["EQ", "IN", "GT", "GTE", "LT", "LTE"]
FieldName = Literal[
    "create_date",
    "username",
    "region_code",
    "video_id",
    "hashtag_name",
    "keyword",
    "music_id",
    "effect_id",
    "video_length",
    "view_count",
    "comment_count",
]


class Condition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    field_name: FieldName
    operation: Operation
    # TikTok takes every value as a string, numbers included.
    field_values: list[str]


class Query(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """All of `and`, at least one of `or`, none of `not`."""

    and_: list[Condition] = msgspec.field(default_factory=list, name="and")
    or_: list[Condition] = msgspec.field(default_factory=list, name="or")
    not_: list[Condition] = msgspec.field(default_factory=list, name="not")

    def is_empty(self) -> bool:
        return not (self.and_ or self.or_ or self.not_)
