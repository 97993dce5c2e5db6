"""Flat exports of a harvest's records, for pandas, R and Excel: one row per object.

Rows are read from the JSON-LD records in iCANDID storage, one file (at most a page of
records) at a time, so an export takes constant memory whatever the harvest's size. Ids are
strings (they exceed 2^53, which spreadsheets and JavaScript would round); counts are
integers; lists (hashtags, mentions) are joined with a space, since none of their items
holds one; an absent value is empty. The columns are documented in COLUMNS and README.
"""

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from workers.comment_records import COMMENT_ID_PREFIX
from workers.records import ID_PREFIX, SCHEMA
from workers.storage import Storage

Row = dict[str, Any]

COLUMNS: dict[str, tuple[str, ...]] = {
    "videos": ("id", "created", "username", "author_name", "description", "transcript", "region", "hashtags",
               "mentions", "views", "likes", "shares", "comments", "favourites", "music_id", "duration", "url"),
    "comments": ("id", "video_id", "parent_comment_id", "created", "text", "likes", "replies"),
    "users": ("username", "status", "display_name", "bio", "verified", "followers", "following", "likes",
              "videos", "url", "bio_link", "avatar"),
    "follows": ("follower", "follower_name", "followed", "followed_name"),
    "account_videos": ("username", "list", "video_id"),
    "playlists": ("id", "name", "items", "updated", "video_ids"),
}
# Where each kind's records are. Videos are also met in the accounts' liked, pinned and
# reposted lists, whose files hold the acts too: rows come from the records of KINDS' types.
FILES: dict[str, tuple[str, ...]] = {
    "videos": (Storage.PAGE_FILES, *Storage.ACCOUNT_VIDEO_FILES), "comments": (Storage.COMMENT_FILES,),
    "users": (Storage.USER_FILES,), "follows": (Storage.FOLLOW_FILES,),
    "account_videos": Storage.ACCOUNT_VIDEO_FILES, "playlists": (Storage.PLAYLIST_FILES,),
}
# The list an act's record type stands for.
ACT_LISTS = {"LikeAction": "liked", "ChooseAction": "pinned", "ShareAction": "reposted"}
KINDS: dict[str, tuple[str, ...]] = {
    "videos": ("Message",), "comments": ("Message",), "users": ("Person",), "follows": ("FollowAction",),
    "account_videos": tuple(ACT_LISTS), "playlists": ("ItemList",),
}


def record_files(records_dir: Path, what: str) -> list[Path]:
    return sorted(path for pattern in FILES[what] for path in records_dir.glob(pattern))


def rows(paths: Iterable[Path], what: str) -> Iterator[Row]:
    to_row: Callable[[dict], Row] = {
        "videos": video_row, "comments": comment_row, "users": user_row, "follows": follow_row,
        "account_videos": act_row, "playlists": playlist_row}[what]
    kinds = KINDS[what]
    for path in paths:
        for record in json.loads(path.read_bytes()):
            if record.get("@type") in kinds:
                yield to_row(record)


def write_csv(out: IO[str], rows: Iterable[Row], what: str) -> int:
    """RFC 4180 quoting: commas, quotes and line breaks inside a value are kept inside it."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS[what], lineterminator="\r\n")
    writer.writeheader()
    written = 0
    for row in rows:
        writer.writerow(row)
        written += 1
    return written


def write_jsonl(out: IO[str], rows: Iterable[Row], what: str) -> int:
    written = 0
    for row in rows:
        out.write(json.dumps({column: row.get(column) for column in COLUMNS[what]}, ensure_ascii=False))
        out.write("\n")
        written += 1
    return written


# --- one record, one row ---------------------------------------------------------------------


def video_row(record: dict) -> Row:
    ids = _identifiers(record)
    author = record.get("author") or {}
    counts = _counts(record.get("interactionStatistic"))
    return {
        "id": ids.get("video_id") or record["@id"].removeprefix(ID_PREFIX),
        "created": record.get("datePublished"),
        "username": author.get("alternateName"),
        "author_name": author.get("name"),
        "description": record.get("name"),
        "transcript": record.get("text"),
        "region": (record.get("locationCreated") or {}).get("name"),
        "hashtags": " ".join(record.get("keywords") or []) or None,
        "mentions": " ".join(m["alternateName"] for m in record.get("mentions") or []) or None,
        "views": counts.get("WatchAction"),
        "likes": counts.get("LikeAction"),
        "shares": counts.get("ShareAction"),
        "comments": counts.get("CommentAction"),
        "favourites": counts.get("BookmarkAction"),
        "music_id": ids.get("music_id"),
        "duration": (record.get("associatedMedia") or {}).get("duration"),
        "url": record.get("sameAs"),
    }


def comment_row(record: dict) -> Row:
    ids = _identifiers(record)
    parents = [p["@id"] for p in record.get("parentItem") or []]
    answers = next((p.removeprefix(COMMENT_ID_PREFIX) for p in parents if p.startswith(COMMENT_ID_PREFIX)), None)
    counts = _counts(record.get("interactionStatistic"))
    return {
        "id": ids.get("comment_id") or record["@id"].removeprefix(COMMENT_ID_PREFIX),
        "video_id": ids.get("video_id"),
        "parent_comment_id": answers,
        "created": record.get("datePublished"),
        "text": record.get("text"),
        "likes": counts.get("LikeAction"),
        "replies": counts.get("ReplyAction"),
    }


def user_row(record: dict) -> Row:
    properties = {p["name"]: p["value"] for p in record.get("additionalProperty") or []}
    received = _counts(record.get("interactionStatistic"))
    made = _counts(record.get("agentInteractionStatistic"))
    return {
        "username": record.get("alternateName"),
        "status": properties.get("tiktok_account_status"),
        "display_name": record.get("name"),
        "bio": record.get("description"),
        "verified": properties.get("verified"),
        "followers": received.get("FollowAction"),
        "following": made.get("FollowAction"),
        "likes": received.get("LikeAction"),
        "videos": made.get("CreateAction"),
        "url": record.get("url"),
        "bio_link": record.get("sameAs"),
        "avatar": record.get("image"),
    }


def follow_row(record: dict) -> Row:
    agent, followed = record.get("agent") or {}, record.get("object") or {}
    return {"follower": agent.get("alternateName"), "follower_name": agent.get("name"),
            "followed": followed.get("alternateName"), "followed_name": followed.get("name")}


def act_row(record: dict) -> Row:
    return {"username": (record.get("agent") or {}).get("alternateName"), "list": ACT_LISTS[record["@type"]],
            "video_id": (record.get("object") or {}).get("@id", "").removeprefix(ID_PREFIX) or None}


def playlist_row(record: dict) -> Row:
    ids = _identifiers(record)
    items = sorted(record.get("itemListElement") or [], key=lambda item: item.get("position", 0))
    return {
        "id": ids.get("playlist_id"),
        "name": record.get("name"),
        "items": record.get("numberOfItems"),
        "updated": record.get("dateModified"),
        "video_ids": " ".join(item["item"]["@id"].removeprefix(ID_PREFIX) for item in items) or None,
    }


def _identifiers(record: dict) -> dict[str, str]:
    return {p["name"]: str(p["value"]) for p in record.get("identifier") or []}


def _counts(counters: list[dict] | None) -> dict[str, int]:
    return {c["interactionType"].removeprefix(SCHEMA): c["userInteractionCount"] for c in counters or []}
