"""The JSON-LD (schema.org) records iCANDID loads, as written under `records/`.

JSON-LD keywords are plain fields renamed with `name=` (`@id`, `@context`, `@vocab`, ...);
`@type` is the struct's msgspec tag, so it is always written (and written first) while
every optional field is left out when absent (`omit_defaults`): a record never holds null.
Fields that must always be present (`@id`, `additionalType`, the context) have no default,
because `omit_defaults` would also drop a constant default.

The builders live in `workers/records.py`; these types only fix the shape.
"""

import msgspec


class _Node(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="@type"):
    """Base for every typed node (`kw_only` is not inherited: each subclass repeats it)."""


class Context(msgspec.Struct, kw_only=True):
    """`@context`: schema.org as the default vocabulary, the text's language-script tag."""

    vocab: str = msgspec.field(name="@vocab")
    language: str = msgspec.field(name="@language")  # e.g. "und-Latn"
    prov: str


class PropertyValue(_Node, tag="PropertyValue", kw_only=True):
    name: str
    value: str | bool | int


class InteractionCounter(_Node, tag="InteractionCounter", kw_only=True):
    interactionType: str  # full schema.org IRI, e.g. https://schema.org/LikeAction
    userInteractionCount: int
    endTime: str  # when the count was read: counts are snapshots


class AudioObject(_Node, tag="AudioObject", kw_only=True):
    id: str | None = msgspec.field(default=None, name="@id")  # iCANDID_tiktok_music_<id>
    duration: str | None = None  # ISO 8601, e.g. PT42S


class Place(_Node, tag="Place", kw_only=True):
    name: str  # the region code as TikTok gives it (e.g. "BE")
    alternateName: str  # the same code in lower case, as iCANDID's TikTok rules wrote it


class Organization(_Node, tag="Organization", kw_only=True):
    id: str = msgspec.field(name="@id")
    name: str
    url: str | None = None


class Dataset(_Node, tag="Dataset", kw_only=True):
    id: str = msgspec.field(name="@id")  # the harvest's id, e.g. tiktok_query_0000001
    name: str | None = None
    license: str
    temporalCoverage: str | None = None  # the harvest period, ISO 8601 interval


class CreativeWork(_Node, tag="CreativeWork", kw_only=True):
    """`isBasedOn`: the provider and the dataset (harvest) a record came from."""

    id: str = msgspec.field(name="@id")
    name: str
    provider: Organization
    isPartOf: Dataset


class Person(_Node, tag="Person", kw_only=True):
    """A TikTok account. As an author/mention reference only `@id`, `alternateName` and
    `url` are set; the full profile is a `PersonRecord` with the same `@id`."""

    id: str = msgspec.field(name="@id")  # iCANDID_tiktok_user_<username>
    alternateName: str  # the username
    name: str | None = None  # display name
    description: str | None = None  # bio
    image: str | None = None  # avatar URL
    url: str | None = None  # profile URL
    sameAs: str | None = None  # the bio link
    additionalProperty: list[PropertyValue] | None = None
    # Interactions with the account (followers, likes received) ...
    interactionStatistic: list[InteractionCounter] | None = None
    # ... and interactions by the account (accounts followed, videos posted).
    agentInteractionStatistic: list[InteractionCounter] | None = None


class PersonRecord(Person, kw_only=True):
    """The profile record made from the user-info call (top level, stored on its own)."""

    context: Context = msgspec.field(name="@context")
    additionalType: str
    isBasedOn: CreativeWork


class VideoRecord(_Node, tag="Message", kw_only=True):
    """One TikTok video (top level)."""

    context: Context = msgspec.field(name="@context")
    id: str = msgspec.field(name="@id")  # iCANDID_tiktok_<video id>
    additionalType: str
    identifier: list[PropertyValue]
    name: str | None = None
    text: str | None = None
    datePublished: str | None = None
    sameAs: str | None = None
    keywords: list[str] | None = None
    locationCreated: Place | None = None
    author: Person | None = None
    creator: Person | None = None
    sender: Person | None = None
    associatedMedia: AudioObject | None = None
    interactionStatistic: list[InteractionCounter] | None = None
    mentions: list[Person] | None = None
    isBasedOn: CreativeWork


class ListItem(_Node, tag="ListItem", kw_only=True):
    position: int  # from 1, in the playlist's order
    item: "MessageRef"


class PlaylistRecord(_Node, tag="ItemList", kw_only=True):
    """A TikTok playlist: its videos in order, each by its record's `@id` (top level)."""

    context: Context = msgspec.field(name="@context")
    id: str = msgspec.field(name="@id")  # iCANDID_tiktok_playlist_<playlist id>
    additionalType: str
    identifier: list[PropertyValue]
    name: str | None = None
    numberOfItems: int | None = None  # as TikTok counts them: videos no longer shown too
    dateModified: str | None = None
    itemListElement: list[ListItem]
    isBasedOn: CreativeWork


class MessageRef(_Node, tag="Message", kw_only=True):
    """A reference to a video or a comment by its `@id` (a comment's `parentItem`)."""

    id: str = msgspec.field(name="@id")


class CommentRecord(_Node, tag="Message", kw_only=True):
    """One comment under a video, or a reply to a comment (top level). TikTok's comment list
    names no author, so none is given."""

    context: Context = msgspec.field(name="@context")
    id: str = msgspec.field(name="@id")  # iCANDID_tiktok_comment_<comment id>
    additionalType: str
    identifier: list[PropertyValue]
    text: str | None = None
    datePublished: str | None = None
    # The video it was written under, and for a reply also the comment it answers.
    parentItem: list[MessageRef]
    interactionStatistic: list[InteractionCounter] | None = None
    isBasedOn: CreativeWork
